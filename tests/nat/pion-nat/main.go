// SPDX-License-Identifier: MIT

// pion-nat: pion's pion-to-pion example (Debian's pion v3.1.56), in offer
// or answer mode, with the ICE servers and the message count of our tools,
// for the NAT lab (tests/nat/pion-offer.sh, tests/nat/pion-answer.sh).
//
// It speaks the example's HTTP signaling exactly: POST /sdp with the JSON
// {"type","sdp"}, POST /candidate with the bare candidate string, local
// candidates held until the remote description is set; the answer POSTs
// its description, then sets it local, then sends the held candidates.
// The offer opens the channel "data".  On stdout it prints what the
// example prints ("Peer Connection State has changed: S", "Data channel
// 'data'-'N' open. ...", "Sending 'M'", "Message from DataChannel 'data':
// 'M'"), sends -count random 15-letter messages every -interval seconds
// once the channel is open, and, once it has sent them all and received
// -count, lets the last ones drain, closes and exits 0.  On stderr it
// prints the pair ICE selected, in our tools' format, once connected:
//
//	Selected candidate pair: local TYPE PROTO ADDR:PORT[ relay-protocol P] <-> remote TYPE PROTO ADDR:PORT
//
// Flags as our tools': -offer-address, -answer-address, -ice-server URL
// (repeatable: stun:, turn:, turns:), -ice-username, -ice-credential,
// -relay-only, -count, -interval; and -mode offer|answer, -timeout.
//
// Built in GOPATH mode against /usr/share/gocode, where
// github.com/pion/webrtc/v3 resolves through a symbolic link (see
// tests/nat/pion.sh).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/randutil"
	"github.com/pion/webrtc/v3"
)

type urlList []string

func (u *urlList) String() string     { return strings.Join(*u, ",") }
func (u *urlList) Set(s string) error { *u = append(*u, s); return nil }

var outMu sync.Mutex

func stdout(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf(format+"\n", args...)
}

func stderr(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func fail(format string, args ...interface{}) {
	stderr("pion-nat: "+format, args...)
	os.Exit(1)
}

func post(addr, path string, body []byte) error {
	resp, err := http.Post(fmt.Sprintf("http://%s%s", addr, path), //nolint:noctx
		"application/json; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

// selectedPair is the line our tools print, from the ICE transport's
// selected pair and, for a local relay candidate, the relay protocol in
// the candidate's stats.
func selectedPair(pc *webrtc.PeerConnection) (string, bool) {
	sctp := pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return "", false
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return "", false
	}
	l, r := pair.Local, pair.Remote
	relay := ""
	if l.Typ == webrtc.ICECandidateTypeRelay {
		relay = " relay-protocol ?"
		for _, s := range pc.GetStats() {
			cs, ok := s.(webrtc.ICECandidateStats)
			if ok && cs.Type == webrtc.StatsTypeLocalCandidate &&
				cs.CandidateType == webrtc.ICECandidateTypeRelay &&
				cs.IP == l.Address && cs.Port == int32(l.Port) && cs.RelayProtocol != "" {
				relay = " relay-protocol " + cs.RelayProtocol
			}
		}
	}
	return fmt.Sprintf("Selected candidate pair: local %s %s %s:%d%s <-> remote %s %s %s:%d",
		l.Typ, l.Protocol, l.Address, l.Port, relay,
		r.Typ, r.Protocol, r.Address, r.Port), true
}

func main() { //nolint:gocognit
	mode := flag.String("mode", "answer", "offer or answer")
	offerAddr := flag.String("offer-address", "", "the offer's HTTP server (default :50000 in offer mode, localhost:50000 in answer mode)")
	answerAddr := flag.String("answer-address", "", "the answer's HTTP server (default 127.0.0.1:60000 in offer mode, :60000 in answer mode)")
	var servers urlList
	flag.Var(&servers, "ice-server", "ICE server URL (stun:, turn:, turns:; repeatable)")
	username := flag.String("ice-username", "", "username for the TURN servers")
	credential := flag.String("ice-credential", "", "credential for the TURN servers")
	relayOnly := flag.Bool("relay-only", false, "only relay candidates (ICETransportPolicyRelay)")
	count := flag.Int("count", 0, "send this many messages, exit once as many are received (0: forever)")
	interval := flag.Float64("interval", 5, "seconds between messages")
	timeout := flag.Duration("timeout", 60*time.Second, "exit with status 2 after this long")
	flag.Parse()

	var listen, remote string
	switch *mode {
	case "offer":
		listen, remote = ":50000", "127.0.0.1:60000"
		if *offerAddr != "" {
			listen = *offerAddr
		}
		if *answerAddr != "" {
			remote = *answerAddr
		}
	case "answer":
		listen, remote = ":60000", "localhost:50000"
		if *answerAddr != "" {
			listen = *answerAddr
		}
		if *offerAddr != "" {
			remote = *offerAddr
		}
	default:
		fail("unknown -mode %q", *mode)
	}
	if *interval <= 0 {
		fail("-interval must be positive")
	}
	time.AfterFunc(*timeout, func() {
		stderr("pion-nat: timed out after %s", *timeout)
		os.Exit(2)
	})

	// One RTCIceServer holding every URL: the credential is for its TURN
	// URLs, as in our tools.
	config := webrtc.Configuration{}
	if len(servers) > 0 {
		s := webrtc.ICEServer{URLs: servers}
		if *username != "" || *credential != "" {
			s.Username = *username
			s.Credential = *credential
			s.CredentialType = webrtc.ICECredentialTypePassword
		}
		config.ICEServers = []webrtc.ICEServer{s}
	}
	if *relayOnly {
		config.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := webrtc.NewPeerConnection(config)
	if err != nil {
		fail("NewPeerConnection: %v", err)
	}

	var candidatesMu sync.Mutex
	var pending []*webrtc.ICECandidate
	signalCandidate := func(c *webrtc.ICECandidate) {
		if err := post(remote, "/candidate", []byte(c.ToJSON().Candidate)); err != nil {
			fail("POST candidate: %v", err)
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		candidatesMu.Lock()
		defer candidatesMu.Unlock()
		if pc.RemoteDescription() == nil {
			pending = append(pending, c)
			return
		}
		signalCandidate(c)
	})
	flushCandidates := func() {
		candidatesMu.Lock()
		defer candidatesMu.Unlock()
		for _, c := range pending {
			signalCandidate(c)
		}
		pending = nil
	}

	// done: every message sent and as many received.
	var mu sync.Mutex
	sent, received := 0, 0
	done := make(chan *webrtc.DataChannel, 1)
	check := func(d *webrtc.DataChannel) {
		if *count > 0 && sent >= *count && received >= *count {
			select {
			case done <- d:
			default:
			}
		}
	}

	var printPair sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		stdout("Peer Connection State has changed: %s", s.String())
		switch s { //nolint:exhaustive
		case webrtc.PeerConnectionStateConnected:
			printPair.Do(func() {
				if line, ok := selectedPair(pc); ok {
					stderr("%s", line)
				} else {
					stderr("pion-nat: connected, but no selected candidate pair")
				}
			})
		case webrtc.PeerConnectionStateFailed:
			stdout("Peer Connection has gone to failed exiting")
			os.Exit(1)
		}
	})

	setup := func(d *webrtc.DataChannel) {
		d.OnOpen(func() {
			stdout("Data channel '%s'-'%d' open. Random messages will now be sent to any connected DataChannels every %s seconds",
				d.Label(), *d.ID(), strconv.FormatFloat(*interval, 'g', -1, 64))
			go func() {
				t := time.NewTicker(time.Duration(*interval * float64(time.Second)))
				defer t.Stop()
				for range t.C {
					mu.Lock()
					if *count > 0 && sent >= *count {
						mu.Unlock()
						return
					}
					message, err := randutil.GenerateCryptoRandomString(15,
						"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
					if err != nil {
						fail("random: %v", err)
					}
					stdout("Sending '%s'", message)
					if err := d.SendText(message); err != nil {
						fail("SendText: %v", err)
					}
					sent++
					check(d)
					mu.Unlock()
				}
			}()
		})
		d.OnMessage(func(msg webrtc.DataChannelMessage) {
			stdout("Message from DataChannel '%s': '%s'", d.Label(), string(msg.Data))
			mu.Lock()
			received++
			check(d)
			mu.Unlock()
		})
	}

	http.HandleFunc("/candidate", func(w http.ResponseWriter, r *http.Request) {
		c, err := ioutil.ReadAll(r.Body)
		if err != nil {
			fail("candidate: %v", err)
		}
		if err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: string(c)}); err != nil {
			fail("AddICECandidate %q: %v", string(c), err)
		}
	})

	if *mode == "answer" {
		pc.OnDataChannel(func(d *webrtc.DataChannel) {
			stdout("New DataChannel %s %d", d.Label(), *d.ID())
			setup(d)
		})
		http.HandleFunc("/sdp", func(w http.ResponseWriter, r *http.Request) {
			desc := webrtc.SessionDescription{}
			if err := json.NewDecoder(r.Body).Decode(&desc); err != nil {
				fail("sdp: %v", err)
			}
			if err := pc.SetRemoteDescription(desc); err != nil {
				fail("SetRemoteDescription: %v", err)
			}
			answer, err := pc.CreateAnswer(nil)
			if err != nil {
				fail("CreateAnswer: %v", err)
			}
			payload, err := json.Marshal(answer)
			if err != nil {
				fail("json: %v", err)
			}
			if err := post(remote, "/sdp", payload); err != nil {
				fail("POST answer: %v", err)
			}
			if err := pc.SetLocalDescription(answer); err != nil {
				fail("SetLocalDescription: %v", err)
			}
			flushCandidates()
		})
		go func() { fail("http: %v", http.ListenAndServe(listen, nil)) }()
	} else {
		http.HandleFunc("/sdp", func(w http.ResponseWriter, r *http.Request) {
			desc := webrtc.SessionDescription{}
			if err := json.NewDecoder(r.Body).Decode(&desc); err != nil {
				fail("sdp: %v", err)
			}
			if err := pc.SetRemoteDescription(desc); err != nil {
				fail("SetRemoteDescription: %v", err)
			}
			flushCandidates()
		})
		go func() { fail("http: %v", http.ListenAndServe(listen, nil)) }()
		d, err := pc.CreateDataChannel("data", nil)
		if err != nil {
			fail("CreateDataChannel: %v", err)
		}
		setup(d)
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			fail("CreateOffer: %v", err)
		}
		if err := pc.SetLocalDescription(offer); err != nil {
			fail("SetLocalDescription: %v", err)
		}
		payload, err := json.Marshal(offer)
		if err != nil {
			fail("json: %v", err)
		}
		if err := post(remote, "/sdp", payload); err != nil {
			fail("POST offer: %v", err)
		}
	}

	d := <-done
	// Let what was sent leave, and the remote take it, before closing.
	for i := 0; i < 50 && d.BufferedAmount() > 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := pc.Close(); err != nil {
		stderr("pion-nat: Close: %v", err)
	}
	os.Exit(0)
}
