package client

import (
	"testing"
	"time"
)

// A poll interval that is not positive would make a waiting loop (Watch's
// polling, WaitForLease's queue reads) hammer the server; every watch
// falls back to one second.
func TestWatchConfigPollDefault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client time.Duration
		opts   []WatchOption
		want   time.Duration
		force  bool
	}{
		{"client default", time.Second, nil, time.Second, false},
		{"client interval", 250 * time.Millisecond, nil, 250 * time.Millisecond, false},
		{"client zero", 0, nil, time.Second, false},
		{"option zero", 250 * time.Millisecond, []WatchOption{WatchPoll(0)}, time.Second, true},
		{"option negative", 0, []WatchOption{WatchPoll(-time.Second)}, time.Second, true},
		{"option interval", 0, []WatchOption{WatchPoll(40 * time.Millisecond)}, 40 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New("http://127.0.0.1:1", "key", WithWatchPollInterval(tc.client))
			if err != nil {
				t.Fatal(err)
			}
			cfg := c.watchConfig(tc.opts)
			if cfg.poll != tc.want || cfg.forcePoll != tc.force {
				t.Fatalf("poll %v force %v, want %v %v", cfg.poll, cfg.forcePoll, tc.want, tc.force)
			}
		})
	}
}
