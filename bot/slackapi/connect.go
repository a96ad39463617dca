package slackapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/visionbot/visionbot/internal/wait"
)

// ConnectConfig paces and bounds the opening of Socket Mode connections.
type ConnectConfig struct {
	// Timeout bounds one apps.connections.open call: Slack answers it
	// at once, so a call that hangs is retried rather than waited for.
	Timeout time.Duration
	// MinGap is the wait before the second of two opens in a row; it
	// doubles with every further open, up to MaxGap.
	MinGap, MaxGap time.Duration
	// Healthy is how long after an open the next one counts as a fresh
	// start again (no wait): a connection that lasted that long was fine.
	Healthy time.Duration

	Now   func() time.Time                                 // nil: time.Now
	Sleep func(ctx context.Context, d time.Duration) error // nil: a timer
}

// PaceConnections returns a transport for the client that opens Socket Mode
// connections (apps.connections.open, the only call that client makes).
//
// slack-go reconnects at once whenever Slack sends a disconnect frame, and
// backs off only when opening fails. A Slack that disconnects right after
// every hello (too_many_websockets, say) would make it open connections in
// a tight loop; this transport spaces the opens out, with a wait that
// doubles while they keep coming, and puts a deadline on each one.
func PaceConnections(next http.RoundTripper, cfg ConnectConfig) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MinGap <= 0 {
		cfg.MinGap = time.Second
	}
	if cfg.MaxGap < cfg.MinGap {
		cfg.MaxGap = max(cfg.MinGap, 2*time.Minute)
	}
	if cfg.Healthy <= 0 {
		cfg.Healthy = 2 * cfg.MaxGap
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = wait.For
	}
	return &pacer{next: next, cfg: cfg}
}

type pacer struct {
	next http.RoundTripper
	cfg  ConnectConfig

	mu   sync.Mutex
	last time.Time     // when the previous open went out
	gap  time.Duration // the wait before the next one, unless it is a fresh start
}

func (p *pacer) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := p.cfg.Sleep(req.Context(), p.reserve()); err != nil {
		return nil, fmt.Errorf("wait to open a Socket Mode connection: %w", err)
	}
	ctx, cancel := context.WithTimeout(req.Context(), p.cfg.Timeout)
	resp, err := p.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	// The deadline covers reading the body too; it ends with the body.
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// reserve returns how long to wait before this open and books its slot.
func (p *pacer) reserve() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	if p.last.IsZero() || now.Sub(p.last) >= p.cfg.Healthy {
		p.last, p.gap = now, p.cfg.MinGap
		return 0
	}
	at := p.last.Add(p.gap)
	wait := max(0, at.Sub(now))
	p.last = now.Add(wait)
	p.gap = min(2*p.gap, p.cfg.MaxGap)
	return wait
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
