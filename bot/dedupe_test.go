package bot

import (
	"testing"
	"time"
)

func TestSeenEvents(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	s := newSeenEvents(10*time.Minute, clock)

	steps := []struct {
		name    string
		advance time.Duration
		keys    []string
		want    bool
	}{
		{"first delivery", 0, []string{"event:Ev1", "message:C1:1.1"}, true},
		{"Slack's retry of the same event", time.Second, []string{"event:Ev1", "message:C1:1.1"}, false},
		{"message.im for the message an app_mention already brought", time.Second, []string{"event:Ev2", "message:C1:1.1"}, false},
		{"another message", 0, []string{"event:Ev3", "message:C1:1.2"}, true},
		{"empty ids never collide", 0, []string{"event:", "message:C1:1.3"}, true},
		{"empty ids never collide, again", 0, []string{"event:", "message:C1:1.4"}, true},
		{"the same event nine minutes later", 9 * time.Minute, []string{"event:Ev3"}, false},
		{"after the memory has expired", 11 * time.Minute, []string{"event:Ev1"}, true},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		if got := s.first(st.keys...); got != st.want {
			t.Errorf("%s: first = %v, want %v", st.name, got, st.want)
		}
	}
}
