// SPDX-License-Identifier: MIT

// pion-peer: a test peer built on Debian's pion (v3.1.56) that speaks the
// HTTP signaling of pion's pion-to-pion example (POST /sdp with the JSON
// {type, sdp}, POST /candidate with the bare candidate string) and reports
// every data channel event on stdout, one line each, for a script to check:
//
//	STATE state=connected
//	CHANNEL label="x" id=1 origin=remote ordered=false maxRetransmits=0 maxPacketLifeTime=none protocol="chat" negotiated=false
//	MESSAGE label="x" id=1 kind=text len=5
//	CLOSING label="x" id=1
//	CLOSE label="x" id=1
//	ABORTED label="x" ... (the remote aborted the association: it closed)
//	ERROR label="x" ...
//
// CHANNEL is printed when a channel opens.  Every message is echoed back on
// its channel with the same kind (text or binary, empty ones too), except
// the text "close-me", on which the peer closes that channel instead.
//
// In answer mode (the default) the peer accepts the channels the offer
// opens.  In offer mode it opens one channel of each kind itself (labels
// "reliable", "unordered", "rexmit0", "lifetime500", "chat", "closer")
// before the offer, and echoes on them as well.  -negotiated 9,11 creates
// negotiated channels with those ids in either mode (labels "neg9",
// "neg11").  -many N (offer mode) opens N more channels "many-0".. at once
// and prints "MANY opened=N" once all of them are open, which pion's own
// channels are when the remote's DCEP ACK has arrived.
//
// Built in GOPATH mode against /usr/share/gocode, where
// github.com/pion/webrtc/v3 resolves through a symbolic link (see
// tests/interop/run-options.sh).
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

	"github.com/pion/webrtc/v3"
)

var outMu sync.Mutex

// report prints one event line; lines never interleave.
func report(format string, args ...interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf(format+"\n", args...)
}

func fail(format string, args ...interface{}) {
	report("FATAL "+format, args...)
	os.Exit(1)
}

func optUint16(p *uint16) string {
	if p == nil {
		return "none"
	}
	return strconv.Itoa(int(*p))
}

func channelID(d *webrtc.DataChannel) string {
	return optUint16(d.ID())
}

// watch reports the events of a channel and echoes its messages.
func watch(d *webrtc.DataChannel, origin string) {
	d.OnOpen(func() {
		report("CHANNEL label=%q id=%s origin=%s ordered=%t maxRetransmits=%s maxPacketLifeTime=%s protocol=%q negotiated=%t",
			d.Label(), channelID(d), origin, d.Ordered(),
			optUint16(d.MaxRetransmits()), optUint16(d.MaxPacketLifeTime()),
			d.Protocol(), d.Negotiated())
	})
	d.OnMessage(func(msg webrtc.DataChannelMessage) {
		kind := "binary"
		if msg.IsString {
			kind = "text"
		}
		report("MESSAGE label=%q id=%s kind=%s len=%d", d.Label(), channelID(d), kind, len(msg.Data))
		if msg.IsString && string(msg.Data) == "close-me" {
			report("CLOSING label=%q id=%s", d.Label(), channelID(d))
			if err := d.Close(); err != nil {
				report("ERROR label=%q id=%s close: %v", d.Label(), channelID(d), err)
			}
			return
		}
		var err error
		if msg.IsString {
			err = d.SendText(string(msg.Data))
		} else {
			err = d.Send(msg.Data)
		}
		if err != nil {
			report("ERROR label=%q id=%s echo: %v", d.Label(), channelID(d), err)
		}
	})
	d.OnClose(func() {
		report("CLOSE label=%q id=%s", d.Label(), channelID(d))
	})
	d.OnError(func(err error) {
		// The remote's SCTP ABORT when it closes the whole connection
		// (ours and browsers send one) is no channel error.
		if strings.Contains(err.Error(), "User Initiated Abort") {
			report("ABORTED label=%q id=%s %v", d.Label(), channelID(d), err)
			return
		}
		report("ERROR label=%q id=%s %v", d.Label(), channelID(d), err)
	})
}

func post(addr, path, contentType string, body []byte) error {
	resp, err := http.Post(fmt.Sprintf("http://%s%s", addr, path), contentType, bytes.NewReader(body)) //nolint:noctx
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

func main() {
	mode := flag.String("mode", "answer", "answer or offer")
	offerAddr := flag.String("offer-address", "", "the offer's HTTP server (default :50000 in offer mode, localhost:50000 in answer mode)")
	answerAddr := flag.String("answer-address", "", "the answer's HTTP server (default 127.0.0.1:60000 in offer mode, :60000 in answer mode)")
	negotiated := flag.String("negotiated", "", "comma-separated ids of negotiated channels to create")
	timeout := flag.Duration("timeout", 60*time.Second, "exit with status 2 after this long")
	many := flag.Int("many", 0, "offer mode: open this many more channels (\"many-N\") at once and report when all have opened")
	flag.Parse()

	var listen, remote string
	switch *mode {
	case "answer":
		listen, remote = ":60000", "localhost:50000"
		if *answerAddr != "" {
			listen = *answerAddr
		}
		if *offerAddr != "" {
			remote = *offerAddr
		}
	case "offer":
		listen, remote = ":50000", "127.0.0.1:60000"
		if *offerAddr != "" {
			listen = *offerAddr
		}
		if *answerAddr != "" {
			remote = *answerAddr
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown -mode %q\n", *mode)
		os.Exit(2)
	}

	time.AfterFunc(*timeout, func() {
		report("TIMEOUT after %s", *timeout)
		os.Exit(2)
	})

	// No ICE servers: host candidates only.
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		fail("NewPeerConnection: %v", err)
	}

	var candidatesMu sync.Mutex
	var pending []string
	haveRemote := false
	sendCandidate := func(c string) {
		if err := post(remote, "/candidate", "application/json; charset=utf-8", []byte(c)); err != nil {
			report("ERROR candidate: %v", err)
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		s := c.ToJSON().Candidate
		candidatesMu.Lock()
		defer candidatesMu.Unlock()
		if !haveRemote {
			pending = append(pending, s)
			return
		}
		sendCandidate(s)
	})
	flushCandidates := func() {
		candidatesMu.Lock()
		defer candidatesMu.Unlock()
		haveRemote = true
		for _, c := range pending {
			sendCandidate(c)
		}
		pending = nil
	}

	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		report("STATE state=%s", s.String())
	})
	pc.OnDataChannel(func(d *webrtc.DataChannel) {
		watch(d, "remote")
	})

	if *negotiated != "" {
		for _, f := range strings.Split(*negotiated, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
			if err != nil {
				fail("bad -negotiated id %q", f)
			}
			id := uint16(n)
			yes := true
			d, err := pc.CreateDataChannel(fmt.Sprintf("neg%d", id), &webrtc.DataChannelInit{Negotiated: &yes, ID: &id})
			if err != nil {
				fail("negotiated channel %d: %v", id, err)
			}
			watch(d, "negotiated")
		}
	}

	http.HandleFunc("/candidate", func(w http.ResponseWriter, r *http.Request) {
		body, err := ioutil.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: string(body)}); err != nil {
			report("ERROR AddICECandidate %q: %v", string(body), err)
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})

	if *mode == "answer" {
		http.HandleFunc("/sdp", func(w http.ResponseWriter, r *http.Request) {
			var desc webrtc.SessionDescription
			if err := json.NewDecoder(r.Body).Decode(&desc); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
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
			// As pion's example: POST the answer, then set it local, then
			// send the candidates held so far.
			if err := post(remote, "/sdp", "application/json; charset=utf-8", payload); err != nil {
				fail("POST answer: %v", err)
			}
			if err := pc.SetLocalDescription(answer); err != nil {
				fail("SetLocalDescription: %v", err)
			}
			flushCandidates()
		})
		report("LISTENING address=%s", listen)
		fail("http: %v", http.ListenAndServe(listen, nil))
	}

	// Offer mode: one channel of each kind, then the offer.
	http.HandleFunc("/sdp", func(w http.ResponseWriter, r *http.Request) {
		var desc webrtc.SessionDescription
		if err := json.NewDecoder(r.Body).Decode(&desc); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := pc.SetRemoteDescription(desc); err != nil {
			fail("SetRemoteDescription: %v", err)
		}
		flushCandidates()
	})
	go func() { fail("http: %v", http.ListenAndServe(listen, nil)) }()

	no := false
	zero := uint16(0)
	lifetime := uint16(500)
	chat := "chat"
	kinds := []struct {
		label string
		init  *webrtc.DataChannelInit
	}{
		{"reliable", nil},
		{"unordered", &webrtc.DataChannelInit{Ordered: &no}},
		{"rexmit0", &webrtc.DataChannelInit{MaxRetransmits: &zero}},
		{"lifetime500", &webrtc.DataChannelInit{MaxPacketLifeTime: &lifetime}},
		{"chat", &webrtc.DataChannelInit{Protocol: &chat}},
		{"closer", nil},
	}
	for _, k := range kinds {
		d, err := pc.CreateDataChannel(k.label, k.init)
		if err != nil {
			fail("CreateDataChannel %s: %v", k.label, err)
		}
		watch(d, "local")
	}
	// pion opens a channel it created once the remote's DCEP ACK arrives:
	// every one of these needs its ACK.
	var manyMu sync.Mutex
	manyOpen := 0
	for i := 0; i < *many; i++ {
		d, err := pc.CreateDataChannel(fmt.Sprintf("many-%d", i), nil)
		if err != nil {
			fail("CreateDataChannel many-%d: %v", i, err)
		}
		d.OnOpen(func() {
			manyMu.Lock()
			defer manyMu.Unlock()
			manyOpen++
			if manyOpen == *many {
				report("MANY opened=%d", manyOpen)
			}
		})
	}

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
	// The answer may not listen yet: retry for a while.
	for attempt := 0; ; attempt++ {
		err = post(remote, "/sdp", "application/json; charset=utf-8", payload)
		if err == nil {
			break
		}
		if attempt == 50 {
			fail("POST offer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {}
}
