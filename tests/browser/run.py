#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Chromium against our tools (meson test --suite browser).

Drives Debian's headless Chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4,
so no WebSocket client and nothing from npm), with its default privacy
settings: its host candidates are <uuid>.local mDNS names.  Cases:

  page          our answer with -page; Chromium opens the page, which
                connects in one round trip; messages flow both ways, a
                message typed in the box arrives; a reload is a new tab
                whose offer the answer serves with a new peer.
  chromium-answer  Chromium as pion's answer, through a driver (below) that
                speaks the pion-to-pion HTTP protocol for a page's
                RTCPeerConnection, against our offer.
  chromium-offer   the same with Chromium as pion's offer, against our
                answer.

Chromium gathers no candidate on loopback and none without a default
route, so everything runs in a network namespace of its own
(p2psig-brw-PID): lo up with multicast (Chromium's mDNS responder and our
resolver meet there), and a veth pair brw-a0/brw-b0 with 198.18.0.1/24
and a default route through 198.18.0.2 that leads nowhere.  Needs root
and ip netns; skipped (77) without them or without Chromium.  The
namespace and what runs in it are removed on exit, failed or not.
"""
import fcntl
import http.server
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
CASE_TIMEOUT = 25      # seconds for a case to connect and exchange
HERE = os.path.dirname(os.path.abspath(__file__))


def log(*args):
    print('browser:', *args, flush=True)


def skip(why):
    log('SKIP:', why)
    sys.exit(SKIP)


# ---- the namespace -----------------------------------------------------------

def in_namespace(argv):
    """Runs this script again inside a fresh namespace; returns its status."""
    if os.geteuid() != 0:
        skip('needs root for a network namespace')
    if not shutil.which('ip'):
        skip('ip (iproute2) is not installed')
    ns = 'p2psig-brw-%d' % os.getpid()
    if subprocess.run(['ip', 'netns', 'add', ns]).returncode != 0:
        skip('ip netns add failed')
    try:
        for cmd in (['link', 'set', 'lo', 'up'],
                    ['link', 'set', 'lo', 'multicast', 'on'],
                    ['link', 'add', 'brw-a0', 'type', 'veth', 'peer', 'name',
                     'brw-b0'],
                    ['addr', 'add', '198.18.0.1/24', 'dev', 'brw-a0'],
                    ['link', 'set', 'brw-a0', 'up'],
                    ['link', 'set', 'brw-b0', 'up'],
                    ['route', 'add', 'default', 'via', '198.18.0.2', 'dev',
                     'brw-a0', 'onlink']):
            subprocess.run(['ip', '-n', ns] + cmd, check=True)
        env = dict(os.environ, P2PSIG_BROWSER_NS=ns)
        return subprocess.run(['ip', 'netns', 'exec', ns, sys.executable,
                               os.path.abspath(__file__)] + argv,
                              env=env).returncode
    finally:
        pids = subprocess.run(['ip', 'netns', 'pids', ns],
                              capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(['ip', 'netns', 'del', ns])


# ---- Chromium over the DevTools protocol ------------------------------------

class Chromium:
    FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync',
             '--disable-default-apps', '--disable-extensions',
             '--no-default-browser-check', '--remote-debugging-pipe']

    def __init__(self, path, workdir, extra=()):
        self.profile = tempfile.mkdtemp(prefix='chromium-', dir=workdir)
        self.log_path = os.path.join(workdir, 'chromium.log')
        to_r, to_w = os.pipe()       # we write, Chromium reads fd 3
        from_r, from_w = os.pipe()   # Chromium writes fd 4
        # Out of the way of 3 and 4 before they are put there.
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_r, from_w)]
        for fd in (to_r, from_w):
            os.close(fd)
        out = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                      0o644)
        null = os.open('/dev/null', os.O_RDONLY)
        args = [path] + self.FLAGS + list(extra) + [
            '--user-data-dir=' + self.profile, 'about:blank']
        self.pid = os.posix_spawn(path, args, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, out, 1),
            (os.POSIX_SPAWN_DUP2, out, 2), (os.POSIX_SPAWN_DUP2, hi[0], 3),
            (os.POSIX_SPAWN_DUP2, hi[1], 4)], setsid=True)
        for fd in hi + [out, null]:
            os.close(fd)
        self.w, self.r = to_w, from_r
        self.buf = b''
        self.next_id = 0
        self.lock = threading.Lock()

    def call(self, method, params=None, session=None, timeout=20):
        with self.lock:
            self.next_id += 1
            msg = {'id': self.next_id, 'method': method,
                   'params': params or {}}
            if session:
                msg['sessionId'] = session
            os.write(self.w, json.dumps(msg).encode() + b'\0')
            deadline = time.time() + timeout
            while True:
                reply = self._read(deadline)
                if reply.get('id') == self.next_id:
                    if 'error' in reply:
                        raise RuntimeError('%s: %s' % (method,
                                                       reply['error']))
                    return reply['result']

    def _read(self, deadline):
        while b'\0' not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError('no answer from Chromium')
            data = os.read(self.r, 1 << 16)
            if not data:
                raise EOFError('Chromium is gone (see %s)' % self.log_path)
            self.buf += data
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def tab(self, url='about:blank'):
        target = self.call('Target.createTarget', {'url': url})['targetId']
        session = self.call('Target.attachToTarget',
                            {'targetId': target, 'flatten': True})['sessionId']
        return Tab(self, target, session)

    def close(self):
        try:
            os.killpg(self.pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


class Tab:
    def __init__(self, chromium, target, session):
        self.chromium, self.target, self.session = chromium, target, session

    def eval(self, expression, timeout=20):
        """The value of a JavaScript expression (a promise is awaited)."""
        result = self.chromium.call('Runtime.evaluate', {
            'expression': expression, 'awaitPromise': True,
            'returnByValue': True}, self.session, timeout)
        if 'exceptionDetails' in result:
            raise RuntimeError('JavaScript: %s' % json.dumps(
                result['exceptionDetails'])[:400])
        return result['result'].get('value')

    def navigate(self, url):
        self.chromium.call('Page.navigate', {'url': url}, self.session)

    def close(self):
        self.chromium.call('Target.closeTarget', {'targetId': self.target})


# ---- our tools ---------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Tool:
    """One of our tools, its stdout and stderr in a file of its own."""

    def __init__(self, name, args, workdir):
        exe = os.environ['P2PSIG_OFFER' if name == 'offer' else
                         'P2PSIG_ANSWER']
        self.path = os.path.join(workdir, '%s-%d.log' % (name, time.time_ns()))
        self.out = open(self.path, 'w')
        # A STUN server nobody runs: no public name, no delay.
        # ICE's debug lines say whether Chromium's mDNS names resolved.
        env = dict(os.environ, G_MESSAGES_DEBUG='p2psig-ice')
        self.proc = subprocess.Popen([exe, '-ice-server', 'stun:127.0.0.1:9',
                                      '-interval', '0.5'] + args, env=env,
                                     stdout=self.out, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def wait_for(what, check, timeout=CASE_TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError('timed out waiting for ' + what)


def sent_by(text):
    return {l[len("Sending '"):-1] for l in text.splitlines()
            if l.startswith("Sending '")}


def received_by(text):
    prefix = "Message from DataChannel 'data': '"
    return {l[len(prefix):-1] for l in text.splitlines()
            if l.startswith(prefix)}


def check_flow(tool, sent, received):
    """Messages went both ways between a tool and Chromium."""
    wait_for('a message from Chromium in the tool',
             lambda: received_by(tool.text()) & set(sent()))
    wait_for('a message from the tool in Chromium',
             lambda: sent_by(tool.text()) & set(received()))


def pair_line(tool):
    return [l for l in tool.text().splitlines()
            if l.startswith('Selected candidate pair')]


# ---- the pion-to-pion driver: Chromium's RTCPeerConnection over HTTP --------

DRIVER_JS = r'''
window.drv = (() => {
  const d = { candidates: [], sent: [], received: [], state: 'new' };
  const pc = d.pc = new RTCPeerConnection({ iceServers: [] });
  pc.onicecandidate = e => {
    if (e.candidate && e.candidate.candidate)
      d.candidates.push(e.candidate.candidate);
  };
  pc.onconnectionstatechange = () => { d.state = pc.connectionState; };
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  d.use = channel => {
    d.channel = channel;
    channel.onmessage = e => d.received.push(e.data);
    channel.onopen = () => setInterval(() => {
      const text = Array.from(crypto.getRandomValues(new Uint8Array(15)),
                              b => letters[b % 52]).join('');
      channel.send(text);
      d.sent.push(text);
    }, 500);
  };
  pc.ondatachannel = e => d.use(e.channel);
  d.offer = async () => {
    d.use(pc.createDataChannel('data'));
    await pc.setLocalDescription(await pc.createOffer());
    return { type: 'offer', sdp: pc.localDescription.sdp };
  };
  d.answer = async offer => {
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    return { type: 'answer', sdp: pc.localDescription.sdp };
  };
  d.take = () => d.candidates.splice(0);
  return d;
})();
true
'''


class Driver:
    """pion's example for a page's RTCPeerConnection: serves /sdp and
    /candidate on listen_port, posts to remote_port, and holds Chromium's
    candidates until the remote description is in (and, as the answer,
    until its answer was posted), as pion does."""

    def __init__(self, tab, role, listen_port, remote_port):
        self.tab, self.role = tab, role
        self.remote = 'http://127.0.0.1:%d' % remote_port
        self.ready = threading.Event()   # our candidates may go
        self.relayed = []                # Chromium's, as posted
        self.errors = []
        self.stop = threading.Event()
        tab.eval(DRIVER_JS)
        driver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                try:
                    driver.handle(self.path, body.decode())
                    self.send_response(200)
                except Exception as e:  # noqa: BLE001 - reported
                    driver.errors.append('%s: %s' % (self.path, e))
                    self.send_response(500)
                self.send_header('Content-Length', '0')
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1',
                                                       listen_port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        threading.Thread(target=self.pump, daemon=True).start()

    def post(self, path, body, retry_s=0):
        deadline = time.time() + retry_s
        while True:
            try:
                request = urllib.request.Request(self.remote + path,
                                                 body.encode(), method='POST')
                with urllib.request.urlopen(request, timeout=10) as r:
                    return r.status
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline:
                    raise
                time.sleep(0.1)

    def handle(self, path, body):
        if path == '/sdp':
            desc = json.loads(body)
            if self.role == 'answer':
                answer = self.tab.eval('drv.answer(%s)' % json.dumps(desc))
                # pion's answer posts its answer from the handler, then
                # sends its candidates: done here in the background.
                threading.Thread(target=self.post_answer, args=(answer,),
                                 daemon=True).start()
            else:
                self.tab.eval('drv.pc.setRemoteDescription(%s).then(() => '
                              'true)' % json.dumps(desc))
                self.ready.set()
        elif path == '/candidate':
            self.tab.eval('drv.pc.addIceCandidate({candidate: %s, '
                          'sdpMLineIndex: 0}).then(() => true)'
                          % json.dumps(body))

    def post_answer(self, answer):
        try:
            self.post('/sdp', json.dumps(answer))
            self.ready.set()
        except Exception as e:  # noqa: BLE001 - reported
            self.errors.append('POST /sdp: %s' % e)

    def start_offer(self):
        offer = self.tab.eval('drv.offer()')
        self.post('/sdp', json.dumps(offer), retry_s=10)

    def pump(self):
        while not self.stop.wait(0.1):
            if not self.ready.is_set():
                continue
            try:
                for candidate in self.tab.eval('drv.take()'):
                    self.post('/candidate', candidate)
                    self.relayed.append(candidate)
            except Exception as e:  # noqa: BLE001 - reported
                self.errors.append('candidates: %s' % e)
                return

    def state(self):
        return self.tab.eval('JSON.stringify({sent: drv.sent, received: '
                             'drv.received, state: drv.state})')

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


# ---- cases ------------------------------------------------------------------

def check_mdns(candidates, who):
    """Chromium's default privacy: host candidates are mDNS names."""
    hosts = [c for c in candidates if ' typ host' in c]
    log('%s: Chromium candidates: %s' % (who, candidates))
    assert hosts, 'Chromium sent no host candidate'
    assert all('.local ' in c for c in hosts), \
        'a host candidate of Chromium is not an mDNS name: %s' % hosts


def case_page(chromium, workdir):
    port = free_port()
    answer = Tool('answer', ['-page', '-answer-address', '127.0.0.1:%d' % port,
                             '-offer-address', '127.0.0.1:9'], workdir)
    tab = None
    try:
        url = 'http://127.0.0.1:%d/' % port
        wait_for('the answer listening',
                 lambda: 'serving the page' in answer.text())
        tab = chromium.tab(url)
        state = lambda: json.loads(tab.eval(
            'JSON.stringify(window.p2psig || null)') or 'null') or {}
        wait_for('the page connected',
                 lambda: state().get('state') == 'connected')
        check_flow(answer, lambda: state()['sent'],
                   lambda: state()['received'])
        # What is typed in the box arrives too.
        tab.eval("document.getElementById('text').value = 'typed by hand';"
                 "document.getElementById('send').requestSubmit(); true")
        wait_for('the typed message',
                 lambda: 'typed by hand' in received_by(answer.text()))
        wait_for('the pair shown', lambda: state().get('pair'))
        log('page: pair shown by the page:', state()['pair'])
        log('page: pair of the answer:', pair_line(answer))
        check_mdns(state()['localCandidates'], 'page')
        assert not state()['errors'], state()['errors']
        first = state()['session']

        # A reload: the page closes its connection, the answer replaces
        # its peer and serves the new tab's offer.
        tab.navigate(url)
        wait_for('a new session',
                 lambda: state().get('session') not in (None, first) and
                 state().get('state') == 'connected')
        before = len(received_by(answer.text()))
        wait_for('messages after the reload',
                 lambda: len(received_by(answer.text())) > before and
                 state()['received'])
        assert 'waiting for a new offer' in answer.text()
    finally:
        if tab:
            tab.close()
        answer.stop()
    log('page: ok')


def case_pion_role(chromium, workdir, chromium_role):
    offer_port, answer_port = free_port(), free_port()
    addresses = ['-offer-address', '127.0.0.1:%d' % offer_port,
                 '-answer-address', '127.0.0.1:%d' % answer_port]
    tab = chromium.tab()
    driver = tool = None
    try:
        if chromium_role == 'answer':
            driver = Driver(tab, 'answer', answer_port, offer_port)
            tool = Tool('offer', addresses, workdir)
        else:
            tool = Tool('answer', addresses, workdir)
            driver = Driver(tab, 'offer', offer_port, answer_port)
            driver.start_offer()
        tool_role = 'offer' if chromium_role == 'answer' else 'answer'
        state = lambda: json.loads(driver.state())
        wait_for('Chromium connected',
                 lambda: state()['state'] == 'connected')
        wait_for('our %s connected' % ('offer' if chromium_role == 'answer'
                                       else 'answer'),
                 lambda: 'State has changed: connected' in tool.text())
        check_flow(tool, lambda: state()['sent'], lambda: state()['received'])
        log('chromium-%s: pair of our tool: %s' % (chromium_role,
                                                   pair_line(tool)))
        check_mdns(driver.relayed, 'chromium-' + chromium_role)
        # Told, not asserted: Chromium here shares the namespace and the
        # address with our tool and answers no query from it; we hear its
        # name only when its announcement comes after we joined the group.
        log('chromium-%s: our %s resolved its mDNS name: %s' % (
            chromium_role, tool_role,
            'yes' if re.search(r'\.local:\d+ resolved to ', tool.text())
            else 'no (the pair is peer-reflexive)'))
        assert not driver.errors, driver.errors
    finally:
        if driver:
            driver.close()
        if tool:
            tool.stop()
        tab.close()
    log('chromium-%s: ok' % chromium_role)


CASES = {
    'page': case_page,
    'chromium-answer': lambda c, w: case_pion_role(c, w, 'answer'),
    'chromium-offer': lambda c, w: case_pion_role(c, w, 'offer'),
}


def run_cases(names):
    path = os.environ.get('P2PSIG_CHROMIUM', '/usr/bin/chromium')
    workdir = tempfile.mkdtemp(prefix='p2psig-browser-')
    chromium = Chromium(path, workdir)
    failed = []
    try:
        log('Chromium:', chromium.call('Browser.getVersion')['product'])
        for name in names:
            start = time.time()
            try:
                CASES[name](chromium, workdir)
            except Exception as e:  # noqa: BLE001 - each case reported
                failed.append(name)
                log('%s: FAILED: %s' % (name, e))
                for f in sorted(os.listdir(workdir)):
                    if f.endswith('.log') and f != 'chromium.log':
                        with open(os.path.join(workdir, f)) as log_file:
                            text = log_file.read()
                        log('--- %s (last 40 lines)' % f)
                        print('\n'.join(text.splitlines()[-40:]))
            log('%s: %.1f s' % (name, time.time() - start))
    finally:
        chromium.close()
        if not os.environ.get('P2PSIG_KEEP_LOGS'):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log('logs kept in', workdir)
    return 1 if failed else 0


def main():
    names = sys.argv[1:] or list(CASES)
    for name in names:
        if name not in CASES:
            print('usage: run.py [%s]...' % '|'.join(CASES), file=sys.stderr)
            return 2
    path = os.environ.get('P2PSIG_CHROMIUM', '/usr/bin/chromium')
    if not os.access(path, os.X_OK):
        skip('%s is not installed (apt-get install chromium)' % path)
    if not os.environ.get('P2PSIG_BROWSER_NS'):
        return in_namespace(names)
    return run_cases(names)


if __name__ == '__main__':
    sys.exit(main())
