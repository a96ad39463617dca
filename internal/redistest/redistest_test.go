package redistest

import "testing"

func TestStartStopRestart(t *testing.T) {
	t.Parallel()

	s := Start(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("a started server does not answer: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("a stopped server still answers")
	}
	s.Restart()
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("a restarted server does not answer: %v", err)
	}
}
