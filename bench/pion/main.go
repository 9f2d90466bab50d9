// SPDX-License-Identifier: MIT
//
// pion-bench: the workloads of bench/bench.c with two pion PeerConnections
// in one Go process, wired to each other directly (as pion's
// data-channels-flow-control example), so that pion's figures can be set
// beside ours in the same run.
//
//	pion-bench [flags] throughput SIZE | pairs SIZE | rate | echo | setup | hol | all
//
// Same workloads, flow control and output as bench.c ("pion <figure>
// <value>" per line): see bench/README.md.  pion gathers no loopback
// candidates, so this runs where a non-loopback address exists (bench/run.sh
// runs it in a network namespace, restricted with -iface to one veth end).
//
// Build (GOPATH mode against Debian's golang-github-pion-webrtc.v3-dev), with
// $S a scratch GOPATH holding the link
// $S/src/github.com/pion/webrtc/v3 -> /usr/share/gocode/src/github.com/pion/webrtc:
//
//	GO111MODULE=off GOPATH=$S:/usr/share/gocode go build -o pion-bench main.go
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/ice/v2"
	"github.com/pion/webrtc/v3"
)

const (
	maxBufferedAmount          = 1024 * 1024
	bufferedAmountLowThreshold = 512 * 1024
	openTimeout                = 15 * time.Second
	holBigSize                 = 1024 * 1024 // bench.c's
	holRounds                  = 30          // without -n
	holWarmup                  = 3
	pionMaxMessage             = 65535 // see benchHol
)

var (
	seconds    = flag.Float64("t", 10, "measured seconds (throughput, rate)")
	warmup     = flag.Float64("w", 1, "warm-up seconds (throughput, rate)")
	roundtrips = flag.Int("n", 10000, "round trips (echo); rounds (hol, default 30)")
	holSize    = flag.Int("b", holBigSize, "size of hol's big message (bench.c's 1 MiB; pion v3 reads at most 65535)")
	runs       = flag.Int("r", 20, "runs (setup)")
	pairs      = flag.Int("p", 2, "pairs sending at once (pairs)")
	iface      = flag.String("iface", "", "gather on this interface only (empty: every one)")
	label      = flag.String("l", "pion", "label of the output lines")
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "pion-bench: %s: %v\n", what, err)
	os.Exit(1)
}

func report(figure string, value float64) {
	prec := 1
	if value < 100 {
		prec = 2
	}
	fmt.Printf("%s %s %.*f\n", *label, figure, prec, value)
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		die("getrusage", err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

// --- two peers wired to each other ------------------------------------------

var api *webrtc.API

func newAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if *iface != "" {
		name := *iface
		se.SetInterfaceFilter(func(n string) bool { return n == name })
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// side is one PeerConnection with the candidates the other side sent before
// its remote description was set (pion refuses those).
type side struct {
	pc        *webrtc.PeerConnection
	mu        sync.Mutex
	remoteSet bool
	pending   []webrtc.ICECandidateInit
	closed    bool
}

func (s *side) addCandidate(c webrtc.ICECandidateInit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if !s.remoteSet {
		s.pending = append(s.pending, c)
		return
	}
	if err := s.pc.AddICECandidate(c); err != nil {
		die("AddICECandidate", err)
	}
}

func (s *side) setRemote(d webrtc.SessionDescription) {
	if err := s.pc.SetRemoteDescription(d); err != nil {
		die("SetRemoteDescription", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remoteSet = true
	for _, c := range s.pending {
		if err := s.pc.AddICECandidate(c); err != nil {
			die("AddICECandidate", err)
		}
	}
	s.pending = nil
}

type pair struct {
	side [2]*side
	dc   [2]*webrtc.DataChannel // "data": offerer's, answer's
	// extra[k] is the channel named newPair's labels[k], likewise.
	extra  [][2]*webrtc.DataChannel
	labels []string
	// opening[i]: side i's channels not open yet; offerOpen and answerOpen
	// are closed when every channel of that side is.
	opening    [2]int32
	offerOpen  chan struct{}
	answerOpen chan struct{}
	failed     chan struct{}
	failOnce   sync.Once
	// onMessage[i] handles the messages side i receives.
	onMessage [2]func(dc *webrtc.DataChannel, msg webrtc.DataChannelMessage)
}

// newPair makes a pair whose offerer creates the channel "data" and then one
// per label (reliable and ordered all), before connect.
func newPair(labels ...string) *pair {
	p := &pair{
		extra:      make([][2]*webrtc.DataChannel, len(labels)),
		labels:     labels,
		offerOpen:  make(chan struct{}),
		answerOpen: make(chan struct{}),
		failed:     make(chan struct{}),
	}
	p.opening[0] = int32(1 + len(labels))
	p.opening[1] = p.opening[0]
	for i := range p.side {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			die("NewPeerConnection", err)
		}
		p.side[i] = &side{pc: pc}
	}
	for i := range p.side {
		other := p.side[1-i]
		p.side[i].pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c != nil {
				other.addCandidate(c.ToJSON())
			}
		})
		p.side[i].pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateFailed {
				p.failOnce.Do(func() { close(p.failed) })
			}
		})
	}
	for k := -1; k < len(labels); k++ {
		label := "data"
		if k >= 0 {
			label = labels[k]
		}
		dc, err := p.side[0].pc.CreateDataChannel(label, nil)
		if err != nil {
			die("CreateDataChannel", err)
		}
		p.channel(label)[0] = dc
		p.watch(0, dc)
	}
	p.side[1].pc.OnDataChannel(func(d *webrtc.DataChannel) {
		c := p.channel(d.Label())
		if c == nil {
			die("OnDataChannel", fmt.Errorf("unexpected channel %q", d.Label()))
		}
		c[1] = d
		p.watch(1, d)
	})
	return p
}

// channel returns the offerer's and answer's channels of that label, or nil.
func (p *pair) channel(label string) *[2]*webrtc.DataChannel {
	if label == "data" {
		return &p.dc
	}
	for k, l := range p.labels {
		if l == label {
			return &p.extra[k]
		}
	}
	return nil
}

// watch hands side i's dc's messages to onMessage[i] and counts its opening.
func (p *pair) watch(i int, dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		if atomic.AddInt32(&p.opening[i], -1) == 0 {
			if i == 0 {
				close(p.offerOpen)
			} else {
				close(p.answerOpen)
			}
		}
	})
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		if f := p.onMessage[i]; f != nil {
			f(dc, msg)
		}
	})
}

// connect runs offer and answer and waits for the offerer's channels to open
// (and the answer's when bothOpen); returns the time from CreateOffer to the
// offerer's (last) OnOpen.
func (p *pair) connect(bothOpen bool) time.Duration {
	t0 := time.Now()
	offer, err := p.side[0].pc.CreateOffer(nil)
	if err != nil {
		die("CreateOffer", err)
	}
	if err = p.side[0].pc.SetLocalDescription(offer); err != nil {
		die("SetLocalDescription(offer)", err)
	}
	p.side[1].setRemote(offer)
	answer, err := p.side[1].pc.CreateAnswer(nil)
	if err != nil {
		die("CreateAnswer", err)
	}
	if err = p.side[1].pc.SetLocalDescription(answer); err != nil {
		die("SetLocalDescription(answer)", err)
	}
	p.side[0].setRemote(answer)

	timeout := time.After(openTimeout)
	var d time.Duration
	select {
	case <-p.offerOpen:
		d = time.Since(t0)
	case <-p.failed:
		die("connect", fmt.Errorf("peer connection failed"))
	case <-timeout:
		die("connect", fmt.Errorf("the offerer's channels did not open"))
	}
	if bothOpen {
		select {
		case <-p.answerOpen:
		case <-p.failed:
			die("connect", fmt.Errorf("peer connection failed"))
		case <-timeout:
			die("connect", fmt.Errorf("the answer's channels did not open"))
		}
	}
	return d
}

func (p *pair) close() {
	for _, s := range p.side {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	}
	for _, s := range p.side {
		if err := s.pc.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "pion-bench: Close: %v\n", err)
		}
	}
}

// --- throughput and message rate ---------------------------------------------

// flow is a pair and its sender goroutine.
type flow struct {
	p               *pair
	bytes, messages uint64
	stop            int32
	done            chan struct{}
}

func newFlow(size int) *flow {
	f := &flow{p: newPair(), done: make(chan struct{})}
	f.p.onMessage[1] = func(_ *webrtc.DataChannel, msg webrtc.DataChannelMessage) {
		atomic.AddUint64(&f.bytes, uint64(len(msg.Data)))
		atomic.AddUint64(&f.messages, 1)
	}
	f.p.connect(true)
	return f
}

func (f *flow) start(size int) {
	dc := f.p.dc[0]
	sendMore := make(chan struct{}, 1)
	dc.SetBufferedAmountLowThreshold(bufferedAmountLowThreshold)
	dc.OnBufferedAmountLow(func() {
		select {
		case sendMore <- struct{}{}:
		default:
		}
	})
	go func() {
		defer close(f.done)
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = 0xa5
		}
		for atomic.LoadInt32(&f.stop) == 0 {
			// Drop a stale wake-up before looking at the amount: a fall
			// below the threshold after the look sends a new one.
			select {
			case <-sendMore:
			default:
			}
			if dc.BufferedAmount()+uint64(size) > maxBufferedAmount {
				select {
				case <-sendMore:
				case <-time.After(500 * time.Millisecond):
				}
				continue
			}
			if err := dc.Send(buf); err != nil {
				die("Send", err)
			}
		}
	}()
}

func countFlows(flows []*flow) (bytes, messages uint64) {
	for _, f := range flows {
		bytes += atomic.LoadUint64(&f.bytes)
		messages += atomic.LoadUint64(&f.messages)
	}
	return
}

// runFlows runs n pairs, each with a sender of size-byte messages, all
// connected before any sends, and returns what the answers received,
// added up, and the CPU % over the measured window.
func runFlows(n, size int) (bps, mps, cpuPct float64) {
	flows := make([]*flow, n)
	for i := range flows {
		flows[i] = newFlow(size)
	}
	for _, f := range flows {
		f.start(size)
	}

	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	t0, c0 := time.Now(), cpuSeconds()
	b0, m0 := countFlows(flows)
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	t1, c1 := time.Now(), cpuSeconds()
	b1, m1 := countFlows(flows)
	for _, f := range flows {
		atomic.StoreInt32(&f.stop, 1)
	}
	for _, f := range flows {
		<-f.done
		f.p.close()
	}
	dt := t1.Sub(t0).Seconds()
	return float64(b1-b0) / dt, float64(m1-m0) / dt, 100 * (c1 - c0) / dt
}

func sizeName(size int) string {
	if size%1024 == 0 {
		return strconv.Itoa(size/1024) + "k"
	}
	return strconv.Itoa(size)
}

func benchThroughput(size int) {
	fmt.Fprintf(os.Stderr, "pion-bench: %s throughput, %d-byte messages, %g s + %g s\n",
		*label, size, *warmup, *seconds)
	bps, _, cpu := runFlows(1, size)
	report("throughput_"+sizeName(size)+"_MBps", bps/1e6)
	report("throughput_"+sizeName(size)+"_cpu_pct", cpu)
}

func benchPairs(size int) {
	fmt.Fprintf(os.Stderr, "pion-bench: %s %d pairs at once, %d-byte messages, %g s + %g s\n",
		*label, *pairs, size, *warmup, *seconds)
	bps, _, cpu := runFlows(*pairs, size)
	report("pairs_count", float64(*pairs))
	report("pairs_"+sizeName(size)+"_MBps", bps/1e6)
	report("pairs_"+sizeName(size)+"_cpu_pct", cpu)
}

func benchRate() {
	fmt.Fprintf(os.Stderr, "pion-bench: %s message rate, 100-byte messages, %g s + %g s\n",
		*label, *warmup, *seconds)
	_, mps, cpu := runFlows(1, 100)
	report("rate_100B_msgps", mps)
	report("rate_100B_cpu_pct", cpu)
}

// --- echo and setup ------------------------------------------------------------

// quantile of sorted v, nearest rank, as bench.c.
func quantile(v []float64, q float64) float64 {
	i := int(q*float64(len(v))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(v) {
		i = len(v) - 1
	}
	return v[i]
}

func benchEcho() {
	n := *roundtrips
	fmt.Fprintf(os.Stderr, "pion-bench: %s echo, %d round trips of 100 bytes\n", *label, n)
	p := newPair()
	warm := n / 20
	total := warm + n
	rtt := make([]float64, n)
	msg := make([]byte, 100)
	for i := range msg {
		msg[i] = 'e'
	}
	var sentAt time.Time
	index := 0
	finished := make(chan struct{})
	p.onMessage[1] = func(dc *webrtc.DataChannel, m webrtc.DataChannelMessage) {
		if err := dc.Send(m.Data); err != nil {
			die("echo reply", err)
		}
	}
	p.onMessage[0] = func(dc *webrtc.DataChannel, _ webrtc.DataChannelMessage) {
		t := time.Now()
		if index >= warm {
			rtt[index-warm] = t.Sub(sentAt).Seconds()
		}
		index++
		if index >= total {
			close(finished)
			return
		}
		sentAt = time.Now()
		if err := dc.Send(msg); err != nil {
			die("echo send", err)
		}
	}
	p.connect(true)
	sentAt = time.Now()
	if err := p.dc[0].Send(msg); err != nil {
		die("echo send", err)
	}
	select {
	case <-finished:
	case <-time.After(120 * time.Second):
		die("echo", fmt.Errorf("did not finish"))
	}
	sort.Float64s(rtt)
	report("echo_median_us", quantile(rtt, 0.5)*1e6)
	report("echo_p99_us", quantile(rtt, 0.99)*1e6)
	p.close()
}

func benchSetup() {
	n := *runs
	fmt.Fprintf(os.Stderr, "pion-bench: %s setup, %d runs\n", *label, n)
	v := make([]float64, n)
	for i := 0; i < n; i++ {
		p := newPair()
		v[i] = p.connect(false).Seconds()
		p.close()
	}
	sort.Float64s(v)
	report("setup_median_ms", quantile(v, 0.5)*1e3)
	report("setup_min_ms", v[0]*1e3)
	report("setup_max_ms", v[n-1]*1e3)
}

// --- head-of-line blocking -----------------------------------------------------

// benchHol: per round, the offerer sends size bytes on "data" and, once that
// Send returns, 100 bytes on "small" (both reliable and ordered); a round
// ends when the answer has both.  Latency: the answer's OnMessage less the
// time just before each Send.  bench.c sends 1 MiB; pion v3.1.56 cannot
// (pionMaxMessage): pion/sctp refuses to send more than 65536 bytes (its
// Association's maxMessageSize, which pion/webrtc leaves at its default: no
// API sets it, a=max-message-size is neither sent nor read), and
// DataChannel.readLoop reads into a 65535-byte buffer (a larger message
// closes the answer's channel).  Any other size shows in the figure names.
func benchHol(size, n int) {
	name := "hol_"
	if size != holBigSize {
		name += sizeName(size) + "_"
	}
	fmt.Fprintf(os.Stderr, "pion-bench: %s hol, %d rounds (+%d warm-up) of %d bytes on \"data\" then 100 on \"small\"\n",
		*label, n, holWarmup, size)
	p := newPair("small")
	big := make([]byte, size)
	for i := range big {
		big[i] = 'h'
	}
	small := make([]byte, 100)
	for i := range small {
		small[i] = 's'
	}
	var (
		mu               sync.Mutex
		bigAt, smallAt   time.Time
		got              int
		arrived          = make(chan struct{}, 1)
		bigLat, smallLat []float64
	)
	p.onMessage[1] = func(dc *webrtc.DataChannel, m webrtc.DataChannelMessage) {
		t := time.Now()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case dc.Label() == "data" && len(m.Data) == size:
			bigAt = t
		case dc.Label() == "small" && len(m.Data) == len(small):
			smallAt = t
		default:
			die("hol", fmt.Errorf("unexpected %d bytes on %q", len(m.Data), dc.Label()))
		}
		if got++; got == 2 {
			got = 0
			arrived <- struct{}{}
		}
	}
	p.connect(true)
	dcData, dcSmall := p.dc[0], p.extra[0][0]
	for r := 0; r < holWarmup+n; r++ {
		t0 := time.Now()
		if err := dcData.Send(big); err != nil {
			die("hol send (data)", err)
		}
		t1 := time.Now()
		if err := dcSmall.Send(small); err != nil {
			die("hol send (small)", err)
		}
		select {
		case <-arrived:
		case <-p.failed:
			die("hol", fmt.Errorf("peer connection failed"))
		case <-time.After(30 * time.Second):
			die("hol", fmt.Errorf("round %d did not finish", r))
		}
		if r < holWarmup {
			continue
		}
		mu.Lock()
		bigLat = append(bigLat, bigAt.Sub(t0).Seconds())
		smallLat = append(smallLat, smallAt.Sub(t1).Seconds())
		mu.Unlock()
	}
	sort.Float64s(bigLat)
	sort.Float64s(smallLat)
	report(name+"small_median_ms", quantile(smallLat, 0.5)*1e3)
	report(name+"small_p90_ms", quantile(smallLat, 0.9)*1e3)
	report(name+"big_median_ms", quantile(bigLat, 0.5)*1e3)
	fmt.Fprintf(os.Stderr, "pion-bench: %s hol: %d rounds ran (+%d warm-up)\n", *label, len(smallLat), holWarmup)
	p.close()
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: pion-bench [flags] throughput SIZE | pairs SIZE | rate | echo | setup | hol | all\n")
	flag.PrintDefaults()
	os.Exit(2)
}

func main() {
	flag.Usage = usage
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		usage()
	}
	api = newAPI()
	switch {
	case (args[0] == "throughput" || args[0] == "pairs") && len(args) == 2:
		size, err := strconv.Atoi(args[1])
		if err != nil || size < 1 || size > 65535 {
			fmt.Fprintf(os.Stderr, "pion-bench: bad size %q (1..65535: pion v3 cannot read more)\n", args[1])
			os.Exit(2)
		}
		if *pairs < 1 || *pairs > 64 {
			fmt.Fprintf(os.Stderr, "pion-bench: bad -p %d (1..64)\n", *pairs)
			os.Exit(2)
		}
		if args[0] == "pairs" {
			benchPairs(size)
		} else {
			benchThroughput(size)
		}
	case args[0] == "rate" && len(args) == 1:
		benchRate()
	case args[0] == "echo" && len(args) == 1:
		benchEcho()
	case args[0] == "setup" && len(args) == 1:
		benchSetup()
	case args[0] == "hol" && len(args) == 1:
		n := holRounds
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "n" {
				n = *roundtrips
			}
		})
		if n < 1 {
			fmt.Fprintf(os.Stderr, "pion-bench: bad -n %d (1 or more)\n", n)
			os.Exit(2)
		}
		if *holSize < 1 || *holSize > pionMaxMessage {
			fmt.Fprintf(os.Stderr, "pion-bench: hol: bad -b %d (1..%d: pion v3 sends at most 65536 bytes a message"+
				" and reads at most 65535; bench.c sends %d)\n", *holSize, pionMaxMessage, holBigSize)
			os.Exit(2)
		}
		benchHol(*holSize, n)
	case args[0] == "all" && len(args) == 1:
		benchSetup()
		benchEcho()
		benchThroughput(16384)
		benchThroughput(65535)
		benchRate()
	default:
		usage()
	}
}
