package bot

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

// StopBoard lets a person's Stop reach their own requests answering in the
// thread (handlers.Stops): on this replica at once, and, through Redis, on
// the replica that runs them, wherever Slack delivered the event.
//
// A Stop is one person's: agent_session_stopped names the person who
// clicked (its user), and anyone who can see the thread can click, so a
// Stop ends that person's requests in the thread and leaves everyone
// else's running. Admission applies the allow-lists to it first.
type StopBoard struct {
	log *zap.Logger
	// relay carries a Stop to the other replicas; nil for one process.
	relay StopRelay

	mu       sync.Mutex
	next     int
	watching map[stopKey]map[int]func() // the stops of each person's requests in each thread
}

// stopKey is whose requests in which thread a Stop ends.
type stopKey struct{ channel, thread, user string }

// StopRelay carries Stops between replicas (RedisStore, with Redis's
// publish and subscribe), each with the person who clicked.
type StopRelay interface {
	PublishStop(ctx context.Context, channel, thread, user string) error
	// SubscribeStops calls stop for each Stop published, until ctx ends.
	SubscribeStops(ctx context.Context, stop func(channel, thread, user string))
}

// NewStopBoard returns a board; relay is nil for one process.
func NewStopBoard(log *zap.Logger, relay StopRelay) *StopBoard {
	return &StopBoard{log: log, relay: relay, watching: map[stopKey]map[int]func(){}}
}

// Watch makes user's Stop in the thread call stop, until unwatch is
// called.
func (s *StopBoard) Watch(channel, thread, user string, stop func()) (unwatch func()) {
	key := stopKey{channel, thread, user}
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

// Stop stops user's requests answering in the thread: this replica's at
// once, the others' through the relay. A thread with no request of theirs
// is no error.
func (s *StopBoard) Stop(ctx context.Context, channel, thread, user string) {
	n := s.stopHere(channel, thread, user)
	s.log.Info("a person stopped the answer in a thread", zap.String("channel", channel), zap.String("thread", thread),
		zap.String("user", user), zap.Int("stopped_here", n))
	if s.relay == nil {
		return
	}
	if err := s.relay.PublishStop(ctx, channel, thread, user); err != nil {
		s.log.Warn("could not tell the other replicas of a Stop", zap.String("channel", channel), zap.Error(err))
	}
}

// stopHere stops this replica's requests of user in the thread and says
// how many.
func (s *StopBoard) stopHere(channel, thread, user string) int {
	key := stopKey{channel, thread, user}
	s.mu.Lock()
	stops := make([]func(), 0, len(s.watching[key]))
	for _, stop := range s.watching[key] {
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
	s.relay.SubscribeStops(ctx, func(channel, thread, user string) { s.stopHere(channel, thread, user) })
}
