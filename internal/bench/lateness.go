package bench

import (
	"slices"
	"sync"
	"time"
)

// latenessProbe measures how late this machine wakes a sleeping goroutine:
// it sleeps 10 ms over and over and records the excess. On a shared or
// throttled virtual machine that excess reaches hundreds of milliseconds,
// and every injected latency of a run (and every wake-up of the bot) is
// late by as much; the table prints it beside the overheads so that a
// reader can tell the machine's noise from the bot's cost.
type latenessProbe struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	late []time.Duration
}

const probeSleep = 10 * time.Millisecond

func startLatenessProbe() *latenessProbe {
	p := &latenessProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTimer(probeSleep)
		defer t.Stop()
		for {
			start := time.Now()
			t.Reset(probeSleep)
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				p.mu.Lock()
				p.late = append(p.late, max(now.Sub(start)-probeSleep, 0))
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// finish stops the probe and returns the p50 and p99 lateness. It may be
// called more than once.
func (p *latenessProbe) finish() [2]float64 {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	late := slices.Clone(p.late)
	return [2]float64{ms(percentile(late, 50)), ms(percentile(late, 99))}
}

// measureLateness probes for d on an otherwise idle bench: the machine's
// own noise floor before any load.
func measureLateness(d time.Duration) [2]float64 {
	p := startLatenessProbe()
	time.Sleep(d)
	return p.finish()
}
