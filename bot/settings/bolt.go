package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
)

// boltBucket holds one record per channel, by its ID.
var boltBucket = []byte("channels")

// OpenBolt keeps channel settings in the file at path (bbolt: one file,
// written in transactions, so that a save is all or nothing and survives a
// crash), for a bot without Redis. One process at a time may hold it.
func OpenBolt(path string, file *File, log *zap.Logger, opts Options) (*Channels, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open the channel settings store %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open the channel settings store %s: %w (another visionbot is running on it: replicas share REDIS_URL instead)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open the channel settings store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open the channel settings store %s: %w", path, err)
	}
	return newChannels(file, boltStore{db: db}, log, opts), nil
}

type boltStore struct{ db *bolt.DB }

func (s boltStore) load(_ context.Context, channel string) (Record, error) {
	var rec Record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = readRecord(tx, channel)
		return err
	})
	return rec, err
}

func (s boltStore) save(_ context.Context, channel string, change handlers.ChannelValues, by string, at time.Time) (before, after Record, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		before, err = readRecord(tx, channel)
		if err != nil {
			return err
		}
		after = merge(before, change, by, at)
		data, err := json.Marshal(after)
		if err != nil {
			return err
		}
		return tx.Bucket(boltBucket).Put([]byte(channel), data)
	})
	return before, after, err
}

func readRecord(tx *bolt.Tx, channel string) (Record, error) {
	var rec Record
	data := tx.Bucket(boltBucket).Get([]byte(channel))
	if data == nil {
		return rec, nil
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return Record{}, fmt.Errorf("read the record of channel %s: %w", channel, err)
	}
	return rec, nil
}

func (s boltStore) close() error { return s.db.Close() }
