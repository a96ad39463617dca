package gemini

import (
	"math"
	"path"
	"strings"
	"time"

	"github.com/visionbot/visionbot/internal/vision"
)

// The token estimates of media, from the rates Google documents, for the
// flows to check a request against the allowances before spending. They
// are estimates: the answer's usage (vision.Usage) is what Gemini counted.
//
// Video ("Video understanding", ai.google.dev/gemini-api/docs/video-understanding,
// technical details): frames are sampled at 1 frame per second unless a
// request asks for another rate; "each frame is tokenized at 258 tokens"
// (66 with media resolution low) on Gemini 2.x, audio at 32 tokens per
// second, plus the timestamps, about 7 tokens a second (Vertex AI's
// "Video understanding": "timestamps ... represented by seven tokens"):
// "approximately 300 tokens per second of video at default media
// resolution, or 100 tokens per second at low". Gemini 3 counts a frame
// by its media resolution: 70 tokens at low and medium, 280 at high, and
// 70 when none is set (Google's answer on discuss.ai.google.dev, "Best
// practices for video pre-processing … media_resolution in Gemini 3":
// "media_resolution_medium is capped at 70 tokens per frame"; "Media
// Resolution - Gemini API": "1s of video jumps from ~70 tokens to ~280"
// at high).
//
// Audio ("Audio understanding", ai.google.dev/gemini-api/docs/audio):
// "Gemini represents each second of audio as 32 tokens"; the media
// resolution does not change it ("audio inputs are tokenized at a fixed
// rate per second across all resolution levels", "Media resolution").
//
// PDF ("Document understanding", ai.google.dev/gemini-api/docs/document-processing):
// "Each document page is equivalent to 258 tokens" on Gemini 2.x. Gemini
// 3 counts a page by its media resolution like an image: 280 at low, 560
// at medium, 1120 at high, and medium's 560 when none is set ("Media
// resolution", Token counts, as third-party summaries quote it; the
// corpus held no copy of Google's table itself).
const (
	framesPerSecond       = 1.0
	audioTokensPerSecond  = 32
	timestampTokensPerSec = 7

	frameTokens2, frameTokens2Low             = 258, 66
	frameTokens3, frameTokens3High            = 70, 280
	pageTokens2                               = 258
	pageTokens3Low, pageTokens3, pageTokens3H = 280, 560, 1120
)

// VideoTokens estimates what d of video costs model at a media resolution
// (vision.MediaResolutionDefault for none), sampled at fps frames a second
// (0: Gemini's 1), with its sound track when audio.
func VideoTokens(model string, d time.Duration, audio bool, level vision.MediaResolution, fps float64) int {
	if d <= 0 {
		return 0
	}
	if fps <= 0 {
		fps = framesPerSecond
	}
	secs := math.Ceil(d.Seconds())
	frames := math.Ceil(d.Seconds() * fps)
	perFrame := frameTokens2
	switch {
	case generation3(model) && level == vision.MediaResolutionHigh:
		perFrame = frameTokens3High
	case generation3(model):
		perFrame = frameTokens3
	case level == vision.MediaResolutionLow:
		perFrame = frameTokens2Low
	}
	n := frames*float64(perFrame) + secs*timestampTokensPerSec
	if audio {
		n += secs * audioTokensPerSecond
	}
	return int(n)
}

// AudioTokens estimates what d of audio costs.
func AudioTokens(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds())) * audioTokensPerSecond
}

// PDFTokens estimates what a PDF of pages pages costs model at a media
// resolution. Gemini reads at most MaxPDFPages of them.
func PDFTokens(model string, pages int, level vision.MediaResolution) int {
	pages = min(max(pages, 0), MaxPDFPages)
	if !generation3(model) {
		return pages * pageTokens2
	}
	switch level {
	case vision.MediaResolutionLow:
		return pages * pageTokens3Low
	case vision.MediaResolutionHigh:
		return pages * pageTokens3H
	}
	return pages * pageTokens3
}

// generation3 reports whether model counts media as Gemini 3 does: Gemini
// 3 and later, and the -latest aliases, which follow the newest models.
func generation3(model string) bool {
	name := path.Base(model)
	if !strings.HasPrefix(name, "gemini-") {
		return false
	}
	return strings.HasSuffix(name, "-latest") || majorVersion(name) >= 3
}
