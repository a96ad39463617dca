package handlers

import (
	"testing"
)

func TestImageURLPolicy(t *testing.T) {
	t.Parallel()

	phone := photo("F1") // thumbs 1024, 720, 480; a 3 MB original
	big := phone
	big.Size = 30 << 20
	small := File{ID: "F2", URLPrivate: "https://files.slack.com/files-pri/T1-F2/s.png", Size: 40 << 10,
		Thumbs: []Thumb{{URL: thumbURL("F2", 360), Width: 360, Height: 200}}}
	noThumbs := File{ID: "F3", URLPrivate: "https://files.slack.com/files-pri/T1-F3/x.heic", Size: 2 << 20}
	tests := []struct {
		name   string
		file   File
		detail bool
		want   string
	}{
		{"a phone photo gets the 720 thumbnail", phone, false, thumbURL("F1", 720)},
		{"detail gets the original", phone, true, phone.URLDownload},
		{"detail over the size limit gets the largest thumbnail", big, true, thumbURL("F1", 1024)},
		{"an image smaller than 720 px is sent as it is", small, false, small.URLPrivate},
		{"no thumbnail (HEIC Slack could not read) sends the original", noThumbs, false, noThumbs.URLPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := imageURL(tt.file, tt.detail, 20<<20); got != tt.want {
				t.Errorf("imageURL = %s, want %s", got, tt.want)
			}
		})
	}
}
