package handlers

import (
	"bytes"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"

	"github.com/visionbot/visionbot/internal/vision"
)

// SupportedFormats names the image formats ReadImage accepts, for the
// texts that tell people what to send.
const SupportedFormats = "JPEG, PNG, WebP, HEIC or GIF"

// maxGIFPixels bounds the one decode the bot does (a GIF's first frame, as
// Gemini takes no GIF): a tiny file can declare enormous dimensions.
const maxGIFPixels = 25_000_000

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
	original := f.URLDownload
	if original == "" {
		original = f.URLPrivate
	}
	if detail && original != "" && f.Size > 0 && f.Size <= maxBytes {
		return original
	}
	var best Thumb
	for _, t := range f.Thumbs {
		side, bestSide := max(t.Width, t.Height), max(best.Width, best.Height)
		switch {
		case detail && side > bestSide:
			best = t
		case !detail && side >= minThumb && (best.URL == "" || side < bestSide):
			best = t
		}
	}
	if best.URL != "" {
		return best.URL
	}
	return original
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
		return vision.Errorf("check file "+f.ID, vision.KindSVG, "", nil)
	case strings.HasPrefix(mime, "image/"):
		return nil
	case mime == "" && (ft == "jpg" || ft == "jpeg" || ft == "png" || ft == "gif" || ft == "webp" || ft == "heic" || ft == "heif"):
		return nil
	}
	return vision.Errorf("check file "+f.ID, vision.KindUnsupportedFile, describeFileType(mime, ft), nil)
}

// describeFileType names a file's type for a user: "a PDF", "a text file".
func describeFileType(mime, filetype string) string {
	switch {
	case mime == "application/pdf" || filetype == "pdf":
		return "a PDF"
	case strings.HasPrefix(mime, "text/") || filetype == "text":
		return "a text file"
	case strings.HasPrefix(mime, "video/"):
		return "a video"
	case strings.HasPrefix(mime, "audio/"):
		return "an audio file"
	case filetype != "" && filetype != "binary":
		return "a ." + filetype + " file"
	case mime != "":
		return "a file of type " + mime
	}
	return "not an image"
}

// ReadImage decides what the bytes are, whatever was declared or however
// the file is named, and makes them ready for the model. Only GIF is decoded
// (its first frame, to PNG); other formats go to the model as they are,
// after a header check that catches corrupt files cheaply. Its errors are
// *vision.Error values (KindUnsupportedFile, KindCorruptImage, …).
func ReadImage(data []byte) (vision.Image, error) {
	const op = "read image"
	if len(data) == 0 {
		return vision.Image{}, vision.Errorf(op, vision.KindCorruptImage, "empty file", nil)
	}
	if isHTML(data) {
		// Slack answers a download it refuses with its sign-in page.
		return vision.Image{}, vision.Errorf(op, vision.KindFilesScope, "", nil)
	}
	if mime, ok := sniffHEIF(data); ok {
		return vision.Image{MIMEType: mime, Data: data}, nil
	}
	if isSVG(data) {
		return vision.Image{}, vision.Errorf(op, vision.KindSVG, "", nil)
	}
	mime := http.DetectContentType(data)
	switch mime {
	case "image/jpeg":
		if _, err := jpeg.DecodeConfig(bytes.NewReader(data)); err != nil {
			return vision.Image{}, vision.Errorf(op, vision.KindCorruptImage, "JPEG", err)
		}
	case "image/png":
		if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
			return vision.Image{}, vision.Errorf(op, vision.KindCorruptImage, "PNG", err)
		}
	case "image/webp":
	case "image/gif":
		return gifFirstFrame(data)
	case "application/pdf":
		return vision.Image{}, vision.Errorf(op, vision.KindUnsupportedFile, "a PDF", nil)
	default:
		return vision.Image{}, vision.Errorf(op, vision.KindUnsupportedFile, describeFileType(mime, ""), nil)
	}
	return vision.Image{MIMEType: mime, Data: data}, nil
}

func gifFirstFrame(data []byte) (vision.Image, error) {
	const op = "convert GIF"
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return vision.Image{}, vision.Errorf(op, vision.KindCorruptImage, "GIF", err)
	}
	if cfg.Width*cfg.Height > maxGIFPixels {
		return vision.Image{}, vision.Errorf(op, vision.KindTooLarge,
			fmt.Sprintf("%dx%d pixels", cfg.Width, cfg.Height), nil)
	}
	frame, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		return vision.Image{}, vision.Errorf(op, vision.KindCorruptImage, "GIF", err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, frame); err != nil {
		return vision.Image{}, vision.Errorf(op, vision.KindInternal, "", err)
	}
	return vision.Image{MIMEType: "image/png", Data: out.Bytes()}, nil
}

// sniffHEIF recognises HEIC/HEIF (an ISO-BMFF "ftyp" box with an image
// brand), which net/http's sniffer does not know.
func sniffHEIF(data []byte) (string, bool) {
	if len(data) < 12 || string(data[4:8]) != "ftyp" {
		return "", false
	}
	switch string(data[8:12]) {
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
		return "image/heic", true
	case "mif1", "msf1":
		return "image/heif", true
	}
	return "", false
}

func isHTML(data []byte) bool {
	head := strings.ToLower(string(bytes.TrimSpace(data[:min(len(data), 512)])))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html")
}

func isSVG(data []byte) bool {
	head := strings.ToLower(string(data[:min(len(data), 1024)]))
	trimmed := strings.TrimSpace(head)
	return strings.Contains(head, "<svg") && (strings.HasPrefix(trimmed, "<?xml") ||
		strings.HasPrefix(trimmed, "<svg") || strings.HasPrefix(trimmed, "<!doctype svg") || strings.HasPrefix(trimmed, "<!--"))
}
