package handlers

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/testimage"
)

// The images of one request stay within MaxRequestBytes: originals that
// don't fit are swapped for Slack's thumbnails (before any download when
// Slack said their size), thumbnails for smaller ones, and the answer says
// which images were sent smaller. With nothing smaller left, the person is
// told what to do.
func TestRequestStaysWithinItsBound(t *testing.T) {
	t.Parallel()

	big := func(id string, size int64) File {
		f := photo(id)
		f.Name, f.Size = id+".png", size
		return f
	}
	tests := []struct {
		name      string
		text      string
		files     []File
		bound     int64
		data      map[string]int // URL → bytes served (a valid image padded to that size)
		downloads []string
		images    []int // the sizes the model got
		note      string
		fails     string
	}{
		{
			name:  "two 9 MB screenshots for code: the larger one as its largest thumbnail, never fetched whole",
			text:  "code",
			files: []File{big("F1", 9<<20+1), big("F2", 9<<20)},
			bound: 13 << 20,
			data:  map[string]int{thumbURL("F1", 1024): 300 << 10, photo("F2").URLDownload: 9 << 20},
			// Slack said both sizes: only as many originals move to their
			// thumbnails as the bound needs, the largest first.
			downloads: []string{photo("F2").URLDownload, thumbURL("F1", 1024)},
			images:    []int{300 << 10, 9 << 20},
			note:      "smaller copies of `F1.png`:",
		},
		{
			name:      "three that don't fit even so: every original that must move",
			text:      "code",
			files:     []File{big("F1", 9<<20), big("F2", 9<<20), big("F3", 9<<20)},
			bound:     13 << 20,
			data:      map[string]int{thumbURL("F1", 1024): 300 << 10, thumbURL("F2", 1024): 200 << 10, photo("F3").URLDownload: 9 << 20},
			downloads: []string{photo("F3").URLDownload, thumbURL("F1", 1024), thumbURL("F2", 1024)},
			images:    []int{300 << 10, 200 << 10, 9 << 20},
			note:      "smaller copies of `F1.png`, `F2.png`:",
		},
		{
			name:      "one original that fits is sent whole, with no note",
			text:      "code",
			files:     []File{big("F1", 9<<20)},
			bound:     13 << 20,
			data:      map[string]int{photo("F1").URLDownload: 9 << 20},
			downloads: []string{photo("F1").URLDownload},
			images:    []int{9 << 20},
		},
		{
			name:      "thumbnails over the bound once downloaded: the largest fetched again smaller",
			text:      "describe",
			files:     []File{photo("F1"), photo("F2")},
			bound:     150 << 10,
			data:      map[string]int{thumbURL("F1", 720): 120 << 10, thumbURL("F2", 720): 60 << 10, thumbURL("F1", 480): 50 << 10},
			downloads: []string{thumbURL("F1", 480), thumbURL("F1", 720), thumbURL("F2", 720)},
			images:    []int{50 << 10, 60 << 10},
			note:      "smaller copies of `F1.png`:",
		},
		{
			name:  "nothing smaller left: the person is told, Gemini is not called",
			text:  "describe",
			files: []File{photo("F1")},
			bound: 10 << 10,
			data:  map[string]int{thumbURL("F1", 720): 120 << 10, thumbURL("F1", 480): 50 << 10},
			fails: "too large for Gemini",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			for url, n := range tt.data {
				s.data[url] = padded(testimage.PNG(t, 8, 8), n)
			}
			m := &fakeModel{chunks: []string{"An answer."}}
			h := newTestFlows(t, s, m)
			h.cfg.MaxRequestBytes = Size(tt.bound)
			for i := range tt.files {
				tt.files[i].Name = tt.files[i].ID + ".png"
			}
			h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: tt.text, Files: tt.files}))
			if len(s.replies) != 1 {
				t.Fatalf("replies = %+v", s.replies)
			}
			reply := s.replies[0].text
			if tt.fails != "" {
				if len(m.got) != 0 || !strings.Contains(reply, tt.fails) || !strings.Contains(reply, "MAX_REQUEST_MB") {
					t.Errorf("model calls %d, reply %q; want none and a message with what to do", len(m.got), reply)
				}
				return
			}
			downloaded := slices.Sorted(slices.Values(s.downloaded))
			if !slices.Equal(downloaded, tt.downloads) {
				t.Errorf("downloads = %v, want %v", downloaded, tt.downloads)
			}
			if len(m.got) != 1 {
				t.Fatalf("model calls = %d; reply %q", len(m.got), reply)
			}
			var sizes []int
			for _, img := range m.got[0].Turns[0].Images {
				sizes = append(sizes, len(img.Data))
			}
			if !slices.Equal(sizes, tt.images) {
				t.Errorf("the model got images of %v bytes, want %v", sizes, tt.images)
			}
			if hasNote := strings.Contains(reply, "smaller copies"); hasNote != (tt.note != "") || !strings.Contains(reply, tt.note) {
				t.Errorf("answer %q, want note %q", reply, tt.note)
			}
		})
	}
}

// padded is a valid image grown to n bytes (trailing bytes after a PNG's
// end are ignored by readers), so that sizes can be set without encoding
// large images.
func padded(img []byte, n int) []byte {
	if n <= len(img) {
		return img
	}
	return append(img, make([]byte, n-len(img))...)
}
