package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/redistest"
)

// fakeRedis speaks just enough RESP to be an older Redis, or one behind a
// proxy, for the replies a redis-server 7 never gives go-redis: each
// command is answered with the reply its name maps to (a RESP line such as
// "-ERR invalid password"), or NOAUTH.
func fakeRedis(t *testing.T, replies map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					cmd, err := readCommand(r)
					if err != nil {
						return
					}
					reply, ok := replies[strings.ToUpper(cmd[0])]
					if !ok {
						reply = "-NOAUTH Authentication required."
					}
					if _, err := io.WriteString(conn, reply+"\r\n"); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// readCommand reads one command as a client sends it: an array of bulk
// strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		head, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
		if err != nil {
			return nil, fmt.Errorf("not a bulk string: %q", head)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// A Redis that refuses the password, in each of the ways go-redis gives
// it, is told from one that fails otherwise, by its reply, not by its
// words: the replies are real redis-server 7 ones, or those of older
// Redis and of a HELLO-less proxy, parsed by go-redis from the wire.
func TestVersionTellsARefusedPassword(t *testing.T) {
	RouteRedisLogs(zap.NewNop())
	srv := redistest.Start(t)
	// Redis before 6 has no HELLO: go-redis falls back to AUTH.
	noHello := "-ERR unknown command 'HELLO'"
	tests := []struct {
		name    string
		url     string
		refused bool
	}{
		{"redis-server 7, wrong password (WRONGPASS)",
			strings.Replace(srv.URL(), redistest.Password, "not-the-password", 1), true},
		{"redis-server 7, no password (NOAUTH)", "redis://" + srv.Addr() + "/0", true},
		{"Redis 5, wrong password",
			"redis://:pw@" + fakeRedis(t, map[string]string{"HELLO": noHello, "AUTH": "-ERR invalid password"}) + "/0", true},
		{"Redis 5, a password it does not ask for",
			"redis://:pw@" + fakeRedis(t, map[string]string{"HELLO": noHello, "AUTH": "-ERR Client sent AUTH, but no password is set"}) + "/0", true},
		{"Redis 6 behind a proxy without HELLO, a password it does not ask for",
			"redis://:pw@" + fakeRedis(t, map[string]string{"HELLO": noHello,
				"AUTH": "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"}) + "/0", true},
		{"a Redis still loading its data",
			"redis://:pw@" + fakeRedis(t, map[string]string{"HELLO": noHello, "AUTH": "+OK",
				"INFO": "-LOADING Redis is loading the dataset in memory"}) + "/0", false},
		{"an ERR reply that names a password further on",
			"redis://:pw@" + fakeRedis(t, map[string]string{"HELLO": noHello, "AUTH": "+OK",
				"INFO": "-ERR unknown subcommand, or not the invalid password you think"}) + "/0", false},
		{"nothing listening", "redis://:pw@" + closedAddr(t) + "/0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewRedis(tt.url, zap.NewNop(), redisOptions(2*time.Second, 0))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_, err = s.Version(context.Background())
			if err == nil {
				t.Fatal("Version succeeded")
			}
			if got := errors.Is(err, ErrRedisAuth); got != tt.refused {
				t.Errorf("Version = %v: a refused password %v, want %v", err, got, tt.refused)
			}
		})
	}
}

// closedAddr is a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
