package slackapi

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// readOpened opens url and reads it to its end: the bytes, or the first
// error of opening or reading.
func readOpened(api *API, url string, size, maxBytes int64) ([]byte, error) {
	body, err := api.OpenDownload(context.Background(), url, size, maxBytes)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

// A video's original and Slack's copies of it stream from the file host
// with the bot token, as files.info names them; what is not the file is
// refused as Get refuses it, and Slack's sign-in page too.
func TestOpenDownload(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	ctx := context.Background()
	obj := emu.AddFile(slackemu.FileSpec{Name: "demo.mp4", Data: []byte("the original video"), DurationMS: 2000,
		Transcodes: map[string][]byte{"mp4": []byte("mp4 copy"), "mp4_low": []byte("small copy")},
		Pending:    []string{"mp4"}})
	f, err := api.FileInfo(ctx, obj["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if f.Display != "video" || f.Duration != 2*time.Second || f.Transcodes["mp4_low"] == "" || f.Transcodes["mp4"] != "" {
		t.Fatalf("files.info read %+v", f)
	}
	data, err := readOpened(api, f.URLDownload, f.Size, 1<<20)
	if err != nil || string(data) != "the original video" {
		t.Errorf("the original: %q, %v", data, err)
	}
	// A copy's size is not in the file object: nothing to check it by.
	if data, err := readOpened(api, f.Transcodes["mp4_low"], 0, 1<<20); err != nil || string(data) != "small copy" {
		t.Errorf("mp4_low: %q, %v", data, err)
	}
	// The copy Slack has not made is not there yet.
	mp4 := strings.TrimSuffix(f.Transcodes["mp4_low"], "_trans.mp4") + ".mp4"
	if _, err := readOpened(api, mp4, 0, 1<<20); failure.KindOf(err) != failure.FileUnavailable {
		t.Errorf("a pending copy: %v", err)
	}

	before := len(emu.Downloads())
	tests := []struct {
		name            string
		url             string
		size, maxBytes  int64
		want            failure.Kind
		requestExpected bool
	}{
		{"over the limit by its file object: no request", f.URLDownload, f.Size, f.Size - 1, failure.TooLarge, false},
		{"over the limit by its Content-Length", f.URLDownload, 0, 5, failure.TooLarge, true},
		{"outside Slack: no request", "https://files.evil.example/demo.mp4", 0, 1 << 20, failure.ForeignHost, false},
	}
	for _, tt := range tests {
		n := len(emu.Downloads())
		if _, err := readOpened(api, tt.url, tt.size, tt.maxBytes); failure.KindOf(err) != tt.want {
			t.Errorf("%s: %v, want kind %v", tt.name, err, tt.want)
		}
		if got := len(emu.Downloads()) > n; got != tt.requestExpected {
			t.Errorf("%s: a request made: %v", tt.name, got)
		}
	}
	for _, d := range emu.Downloads()[before:] {
		if d.Auth != "Bearer "+apiTestToken {
			t.Errorf("%s got Authorization %q", d.Path, d.Auth)
		}
	}

	// Slack's sign-in page is never a video: Open refuses it, where Get
	// hands it to the caller to recognise, as before.
	emu.DenyFiles(true)
	if _, err := readOpened(api, f.URLDownload, f.Size, 1<<20); failure.KindOf(err) != failure.FilesScope {
		t.Errorf("the sign-in page: %v", err)
	}
	if page, err := api.Download(ctx, f.URLDownload, 1<<20); err != nil || !strings.HasPrefix(string(page), "<!DOCTYPE html>") {
		t.Errorf("Get of the sign-in page: %.30q, %v", page, err)
	}
}

// A file that is not the size its file object said, because it changed
// between files.info and the download or because the host sends another
// body, is a *SizeMismatch: at once when the body says its length, at its
// end when it does not.
func TestOpenDownloadOfAnotherSize(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	fewer := emu.AddFile(slackemu.FileSpec{Name: "fewer.mp4", Data: []byte("12345"), Size: 9})
	more := emu.AddFile(slackemu.FileSpec{Name: "more.mp4", Data: []byte("12345"), Size: 3})
	exact := emu.AddFile(slackemu.FileSpec{Name: "exact.mp4", Data: []byte("12345")})

	// A host that sends its body without a length.
	unsized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		for _, part := range []string{"123", "45"} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
	}))
	defer unsized.Close()
	d := NewDownloader(&http.Client{Timeout: 5 * time.Second}, apiTestToken, []string{unsized.URL})
	openUnsized := func(size int64) ([]byte, error) {
		body, err := d.Open(context.Background(), unsized.URL+"/v.mp4", size, 1<<20)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		return io.ReadAll(body)
	}

	tests := []struct {
		name string
		read func() ([]byte, error)
		want *SizeMismatch // nil: the whole body
		// data is what is read before the error: all of it when the body
		// is short, no more than was declared when it goes on.
		data string
	}{
		{"fewer bytes than declared, said by Content-Length",
			func() ([]byte, error) { return readOpened(api, fewer["url_private_download"].(string), 9, 1<<20) },
			&SizeMismatch{Want: 9, Got: 5}, ""},
		{"more bytes than declared, said by Content-Length",
			func() ([]byte, error) { return readOpened(api, more["url_private_download"].(string), 3, 1<<20) },
			&SizeMismatch{Want: 3, Got: 5}, ""},
		{"as declared", func() ([]byte, error) { return readOpened(api, exact["url_private_download"].(string), 5, 1<<20) }, nil, "12345"},
		{"fewer bytes than declared, without a length", func() ([]byte, error) { return openUnsized(9) }, &SizeMismatch{Want: 9, Got: 5}, "12345"},
		{"more bytes than declared, without a length", func() ([]byte, error) { return openUnsized(4) }, &SizeMismatch{Want: 4, Got: 4, More: true}, "1234"},
		{"as declared, without a length", func() ([]byte, error) { return openUnsized(5) }, nil, "12345"},
		{"no size to check, without a length", func() ([]byte, error) { return openUnsized(0) }, nil, "12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.read()
			if string(data) != tt.data {
				t.Errorf("read %q, want %q", data, tt.data)
			}
			if tt.want == nil {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			var got *SizeMismatch
			if !errors.As(err, &got) || *got != *tt.want {
				t.Fatalf("err = %v (%#v), want %+v", err, got, *tt.want)
			}
			if failure.KindOf(err) != failure.FileUnavailable || strings.Contains(err.Error(), "http") {
				t.Errorf("err = %v (kind %v): the user is told the file is not available, and no URL", err, failure.KindOf(err))
			}
		})
	}
}

// A streamed download is bounded by each wait for more, not by the whole:
// a video that keeps coming takes longer than the client's timeout, and
// one that stops coming ends after it.
func TestOpenBoundsEachWait(t *testing.T) {
	t.Parallel()

	const wait = 300 * time.Millisecond
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		switch r.URL.Path {
		case "/steady":
			// Three times the client's timeout, never waiting long.
			for range 15 {
				io.WriteString(w, "frame")
				w.(http.Flusher).Flush()
				select {
				case <-time.After(wait / 5):
				case <-r.Context().Done():
					return
				}
			}
		case "/stalls":
			io.WriteString(w, "frame")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	d := NewDownloader(&http.Client{Timeout: wait}, apiTestToken, []string{srv.URL})

	body, err := d.Open(context.Background(), srv.URL+"/steady", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil || len(data) != 15*len("frame") {
		t.Errorf("steady: %d bytes, %v", len(data), err)
	}
	// Get keeps its bound on the whole download: images are small.
	if _, err := d.Get(context.Background(), srv.URL+"/steady", 1<<20); err == nil {
		t.Error("Get outlasted the client's timeout")
	}

	body, err = d.Open(context.Background(), srv.URL+"/stalls", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	start := time.Now()
	data, err = io.ReadAll(body)
	if failure.KindOf(err) != failure.Timeout || string(data) != "frame" {
		t.Errorf("stalled: %q, %v (kind %v)", data, err, failure.KindOf(err))
	}
	if took := time.Since(start); took < wait {
		t.Errorf("gave up after %v, before the %v wait", took, wait)
	}
}

// videoBytes is the size of the video the memory test and the benchmark
// stream: a 5-minute 1080p screen recording.
const videoBytes = 200 << 20

// generatedCRC is the CRC-32 of a generated body of n bytes
// (slackemu.GeneratedByte).
func generatedCRC(n int64) uint32 {
	block := make([]byte, 251*256)
	for i := range block {
		block[i] = slackemu.GeneratedByte(int64(i))
	}
	var sum uint32
	for ; n > 0; n -= int64(len(block)) {
		sum = crc32.Update(sum, crc32.IEEETable, block[:min(n, int64(len(block)))])
	}
	return sum
}

// A 200 MB video streams through Open with no more memory than a few
// buffers: the bytes the whole process allocates while it is read are far
// below the video's size. Not parallel: the process's allocations are
// counted, and the parallel tests wait while it runs.
func TestOpenHoldsNoVideoWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200 MB")
	}
	api, emu := newTestAPI(t)
	obj := emu.AddFile(slackemu.FileSpec{Name: "recording.mp4", Generated: videoBytes})
	url := obj["url_private_download"].(string)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	body, err := api.OpenDownload(context.Background(), url, videoBytes, videoBytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := crc32.NewIEEE()
	n, err := io.Copy(sum, body)
	body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != videoBytes {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if sum.Sum32() != generatedCRC(videoBytes) {
		t.Error("the bytes are not the video's")
	}
	// Emulator and bot together: a whole copy would be 200 MB.
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("streaming %d MB allocated %d KB in the whole process", videoBytes>>20, allocated>>10)
	if allocated > 8<<20 {
		t.Errorf("streaming %d MB allocated %d MB; want a few buffers", videoBytes>>20, allocated>>20)
	}
}

// BenchmarkOpen streams a 200 MB video from the emulator: its allocations
// per download stay a few buffers, whatever the size.
func BenchmarkOpen(b *testing.B) {
	emu := slackemu.New()
	defer emu.Close()
	emu.SetBotToken(apiTestToken)
	api := apiOn(emu)
	url := emu.AddFile(slackemu.FileSpec{Name: "recording.mp4", Generated: videoBytes})["url_private_download"].(string)
	b.ReportAllocs()
	b.SetBytes(videoBytes)
	for b.Loop() {
		body, err := api.OpenDownload(context.Background(), url, videoBytes, videoBytes)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, body); err != nil || n != videoBytes {
			b.Fatalf("read %d bytes, %v", n, err)
		}
		body.Close()
	}
}
