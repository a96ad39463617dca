package handlers

import (
	"cmp"
	"slices"
	"strings"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/media"
)

// minThumb is the smallest thumbnail side the model gets by default. Slack's
// 720-px thumbnail fits one 768-px tile of Gemini's image tokenizer (258
// tokens: larger images cost more tiles and a slower first token), is sharp
// enough to read a dish, a landmark or a sign, and weighs about a tenth of
// a megabyte, which keeps a request to Gemini under 200 KB once
// base64-encoded. Slack has already made it: nothing is decoded here.
const minThumb = 720

// imageURL picks what to download for a file: by default Slack's smallest
// thumbnail of at least 720 px (or the original, when the image is smaller
// than that and Slack made none); when the use case needs detail (legible
// text in a screenshot), the original if it is within the size limit, else
// the largest thumbnail.
func imageURL(f File, detail bool, maxBytes int64) string {
	return imageChoices(f, detail, maxBytes)[0].url
}

// imageChoice is one copy of a file the bot may send: the original or one
// of Slack's thumbnails, with its size when Slack said it (the original's).
type imageChoice struct {
	url  string
	size int64 // 0: unknown until downloaded
}

// imageChoices are the copies of a file to send, the preferred first (see
// imageURL), then each smaller thumbnail, largest first: what a request
// falls back on when its images together are over its bound.
func imageChoices(f File, detail bool, maxBytes int64) []imageChoice {
	original := imageChoice{url: f.URLDownload, size: f.Size}
	if original.url == "" {
		original.url = f.URLPrivate
	}
	thumbs := slices.SortedFunc(slices.Values(f.Thumbs), func(a, b Thumb) int {
		return cmp.Compare(max(b.Width, b.Height), max(a.Width, a.Height))
	})
	var first Thumb
	if detail {
		if original.url != "" && f.Size > 0 && f.Size <= maxBytes {
			return append([]imageChoice{original}, thumbChoices(thumbs)...)
		}
		if len(thumbs) > 0 {
			first = thumbs[0]
		}
	} else {
		for _, t := range thumbs { // the smallest of at least minThumb
			if max(t.Width, t.Height) >= minThumb {
				first = t
			}
		}
	}
	if first.URL == "" {
		return append([]imageChoice{original}, thumbChoices(thumbs)...)
	}
	i := slices.IndexFunc(thumbs, func(t Thumb) bool { return t.URL == first.URL })
	return thumbChoices(thumbs[i:])
}

func thumbChoices(thumbs []Thumb) []imageChoice {
	out := make([]imageChoice, 0, len(thumbs))
	for _, t := range thumbs {
		out = append(out, imageChoice{url: t.URL})
	}
	return out
}

// hasImageCandidate says whether a message's files may hold an image,
// counting Slack Connect stubs, whose type is known only after files.info.
func hasImageCandidate(files []File) bool {
	for _, f := range files {
		if f.Access == "check_file_info" || checkDeclaredType(f) == nil {
			return true
		}
	}
	return false
}

// checkDeclaredType refuses, before any download, files that Slack itself
// says are not images. Files that claim to be images are still sniffed.
func checkDeclaredType(f File) error {
	mime := strings.ToLower(f.Mimetype)
	ft := strings.ToLower(f.Filetype)
	switch {
	case mime == "image/svg+xml" || ft == "svg":
		return failure.Errorf("check file "+f.ID, failure.SVG, "", nil)
	case strings.HasPrefix(mime, "image/"):
		return nil
	case mime == "" && (ft == "jpg" || ft == "jpeg" || ft == "png" || ft == "gif" || ft == "webp" || ft == "heic" || ft == "heif"):
		return nil
	}
	return failure.Errorf("check file "+f.ID, failure.UnsupportedFile, media.Describe(mime, ft), nil)
}
