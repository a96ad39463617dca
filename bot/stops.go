package bot

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

// StopBoard lets a person's Stop reach the request answering in their
// thread (handlers.Stops): on this replica at once, and, through Redis,
// on the replica that runs it, wherever Slack delivered the event.
type StopBoard struct {
	log *zap.Logger
	// relay carries a Stop to the other replicas; nil for one process.
	relay StopRelay

	mu       sync.Mutex
	next     int
	watching map[string]map[int]func() // channel/thread → the stops of its requests
}

// StopRelay carries Stops between replicas (RedisStore, with Redis's
// publish and subscribe).
type StopRelay interface {
	PublishStop(ctx context.Context, channel, thread string) error
	// SubscribeStops calls stop for each Stop published, until ctx ends.
	SubscribeStops(ctx context.Context, stop func(channel, thread string))
}

// NewStopBoard returns a board; relay is nil for one process.
func NewStopBoard(log *zap.Logger, relay StopRelay) *StopBoard {
	return &StopBoard{log: log, relay: relay, watching: map[string]map[int]func(){}}
}

// Watch makes a Stop in the thread call stop, until unwatch is called.
func (s *StopBoard) Watch(channel, thread string, stop func()) (unwatch func()) {
	key := channel + "/" + thread
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	if s.watching[key] == nil {
		s.watching[key] = map[int]func(){}
	}
	s.watching[key][id] = stop
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.watching[key], id)
		if len(s.watching[key]) == 0 {
			delete(s.watching, key)
		}
	}
}

// Stop stops the requests answering in the thread: this replica's at once,
// the others' through the relay. A thread with no request is no error.
func (s *StopBoard) Stop(ctx context.Context, channel, thread string) {
	n := s.stopHere(channel, thread)
	s.log.Info("a person stopped the answer in a thread", zap.String("channel", channel), zap.String("thread", thread),
		zap.Int("stopped_here", n))
	if s.relay == nil {
		return
	}
	if err := s.relay.PublishStop(ctx, channel, thread); err != nil {
		s.log.Warn("could not tell the other replicas of a Stop", zap.String("channel", channel), zap.Error(err))
	}
}

// stopHere stops this replica's requests in the thread and says how many.
func (s *StopBoard) stopHere(channel, thread string) int {
	s.mu.Lock()
	stops := make([]func(), 0, len(s.watching[channel+"/"+thread]))
	for _, stop := range s.watching[channel+"/"+thread] {
		stops = append(stops, stop)
	}
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	return len(stops)
}

// listen stops this replica's requests for the Stops the other replicas
// received, until ctx ends.
func (s *StopBoard) listen(ctx context.Context) {
	if s.relay == nil {
		return
	}
	s.relay.SubscribeStops(ctx, func(channel, thread string) { s.stopHere(channel, thread) })
}
