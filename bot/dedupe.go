package bot

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// storeTimeout bounds one call to the store: the loop waits for it before
// the next envelope, so a slow Redis must not stall every request.
const storeTimeout = 2 * time.Second

// firstSight records an event's keys and reports whether none of them was
// seen within the dedupe ttl, so that a retried or doubled event gets one
// answer. Slack retries for minutes; the memory lasts longer. Empty keys
// (such as "event:" without an id) are ignored. A store error lets the
// event through: an answer given twice is better than none (RedisStore
// falls back to memory on its own, so this is the last resort).
func (b *Bot) firstSight(keys ...string) bool {
	kept := keys[:0:0]
	for _, k := range keys {
		if !isEmptyKey(k) {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	fresh, err := b.store.Claim(ctx, b.cfg.DedupeTTL, kept...)
	if err != nil {
		b.log.Warn("dedupe store failed: letting the event through", zap.Error(err))
		return true
	}
	return fresh
}

func isEmptyKey(k string) bool {
	return k == "" || k[len(k)-1] == ':'
}
