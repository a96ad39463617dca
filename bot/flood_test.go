package bot

import (
	"fmt"
	"testing"

	"github.com/visionbot/visionbot/bot/slackapi"
)

// 200 events arrive on the real Socket Mode connection while every worker
// waits on a stalled Gemini: each envelope is still acked, the queue takes
// what it can, and every request beyond it is told that the bot is busy,
// none dropped. (How fast the acks come is make bench's to measure.)
func TestFloodWhileGeminiIsStalled(t *testing.T) {
	t.Parallel()

	const workers, queue, events = 4, 8, 200
	emu := newEmu(t)
	flows := &blockingFlows{started: make(chan struct{}, events), release: make(chan struct{})}
	lb := startLiveBot(t, emu, flows, slackapi.ConnectConfig{}, 0, testCfg{Workers: workers, Queue: queue})
	if err := emu.WaitConnected(liveWait); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(flows.release)
		}
	}
	t.Cleanup(release) // before the bot stops: its jobs must end

	envelopes := make([]string, 0, events)
	for i := range events {
		envelopes = append(envelopes, lb.mention(t, "C1", fmt.Sprintf("1700000000.%06d", i+1)))
	}
	for _, env := range envelopes {
		if _, err := emu.WaitAck(env, liveWait); err != nil {
			t.Fatalf("envelope %s: %v", env, err)
		}
	}
	busy := events - workers - queue
	waitUntil(t, fmt.Sprintf("%d busy notices", busy), func() bool { return flows.count("busy") == busy })
	release()
	waitUntil(t, "the running and queued requests answered", func() bool { return flows.count("mention") == workers+queue })
	if n := flows.count("busy") + flows.count("mention"); n != events {
		t.Errorf("%d of %d requests got an answer or a busy notice", n, events)
	}
}
