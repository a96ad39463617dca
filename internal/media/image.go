// Package media reads the bytes people post: it decides what a file is
// from its bytes, whatever was declared, checks it cheaply for damage, and
// makes it ready for the model. It knows nothing of Slack or of the flows:
// the bot and the CLI (visionbot analyze) both read files through it.
package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/vision"
)

// SupportedFormats names the image formats ReadImage accepts, for the
// texts that tell people what to send.
const SupportedFormats = "JPEG, PNG, WebP, HEIC or GIF"

// maxGIFPixels bounds the one decode the bot does (a GIF's first frame, as
// Gemini takes no GIF): a tiny file can declare enormous dimensions.
const maxGIFPixels = 25_000_000

// Describe names a file's type for a user: "a PDF", "a text file".
func Describe(mime, filetype string) string {
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
// *failure.Error values (KindUnsupportedFile, KindCorruptImage, …).
//
// What "cheap" means here: no pixel is decoded. A JPEG must start with its
// SOI, have a frame header (jpeg.DecodeConfig), and have its EOI somewhere
// after the main image's start of scan; a PNG must have a valid header
// (png.DecodeConfig) and every chunk whole up to IEND; a WebP must be as
// long as its RIFF header says; a HEIC/HEIF must have every top-level box
// whole. That catches the common damage (an upload or a copy cut short, a
// renamed file) in one pass over the bytes. Damage inside compressed pixel
// data is left to the model, which answers KindImageRejected.
func ReadImage(data []byte) (vision.Image, error) {
	const op = "read image"
	if len(data) == 0 {
		return vision.Image{}, failure.Errorf(op, failure.CorruptImage, "", errors.New("empty file"))
	}
	if isHTML(data) {
		// Slack answers a download it refuses with its sign-in page.
		return vision.Image{}, failure.Errorf(op, failure.FilesScope, "", nil)
	}
	if isSVG(data) {
		return vision.Image{}, failure.Errorf(op, failure.SVG, "", nil)
	}
	t, refusal := identify(data[:min(len(data), SniffSize)])
	switch {
	case refusal != "":
		return vision.Image{}, failure.Errorf(op, failure.UnsupportedFile, refusal, nil)
	case t.Kind != KindImage:
		return vision.Image{}, failure.Errorf(op, failure.UnsupportedFile, describe(t), nil)
	}
	mime := t.MIMEType
	var damage error
	switch mime {
	case "image/heic", "image/heif":
		damage = checkBoxes(data)
	case "image/jpeg":
		if _, err := jpeg.DecodeConfig(bytes.NewReader(data)); err != nil {
			damage = err
		} else {
			damage = checkJPEGEnd(data)
		}
	case "image/png":
		if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
			damage = err
		} else {
			damage = checkPNGChunks(data)
		}
	case "image/webp":
		damage = checkRIFFLength(data)
	case "image/gif":
		return gifFirstFrame(data)
	}
	if damage != nil {
		return vision.Image{}, failure.Errorf(op, failure.CorruptImage, formatName(mime), damage)
	}
	return vision.Image{MIMEType: mime, Data: data}, nil
}

// sniff names the type of an image from its first bytes: net/http's
// sniffer, plus the ISO-BMFF image formats (HEIC, HEIF, AVIF) and TIFF,
// which it does not know. Identify reads the other kinds of media first.
func sniff(data []byte) string {
	if mime, ok := sniffISOBMFF(data); ok {
		return mime
	}
	if bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")) {
		return "image/tiff"
	}
	return http.DetectContentType(data)
}

// formatName is the short name of a supported format, for messages.
func formatName(mime string) string {
	switch mime {
	case "image/heic", "image/heif":
		return "HEIC"
	}
	return strings.ToUpper(strings.TrimPrefix(mime, "image/"))
}

// describeSniffed names, for a user, a type that sniffing found and the
// model does not take.
func describeSniffed(mime string) string {
	switch mime {
	case "image/bmp":
		return "a BMP image"
	case "image/tiff":
		return "a TIFF image"
	case "image/avif":
		return "an AVIF image"
	case "image/x-icon":
		return "an icon file"
	case "application/zip", "application/x-gzip", "application/x-rar-compressed":
		return "an archive"
	case "application/octet-stream":
		return "a file I don't recognise"
	}
	base, _, _ := strings.Cut(mime, ";")
	return Describe(base, "")
}

func gifFirstFrame(data []byte) (vision.Image, error) {
	const op = "convert GIF"
	// The bound is checked on the header alone: the logical screen bounds
	// every frame (image/gif refuses a larger one), so no decode can
	// allocate more than this.
	cfg, err := gif.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return vision.Image{}, failure.Errorf(op, failure.CorruptImage, "GIF", err)
	}
	if cfg.Width*cfg.Height > maxGIFPixels {
		return vision.Image{}, failure.Errorf(op, failure.TooLarge,
			fmt.Sprintf("a GIF of %d×%d pixels; I take up to %d megapixels", cfg.Width, cfg.Height, maxGIFPixels/1_000_000), nil)
	}
	frame, err := gif.Decode(bytes.NewReader(data)) // the first frame only
	if err != nil {
		return vision.Image{}, failure.Errorf(op, failure.CorruptImage, "GIF", err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, frame); err != nil {
		return vision.Image{}, failure.Errorf(op, failure.Internal, "", err)
	}
	return vision.Image{MIMEType: "image/png", Data: out.Bytes()}, nil
}

// sniffISOBMFF recognises HEIC, HEIF and AVIF: an ISO-BMFF "ftyp" box whose
// major brand, or else one of its compatible brands, names an image format.
// HEIC goes to the model as image/heic; AVIF it does not take.
func sniffISOBMFF(data []byte) (string, bool) {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return "", false
	}
	end := min(int(binary.BigEndian.Uint32(data)), len(data))
	brands := []string{string(data[8:12])} // the major brand decides first
	for i := 16; i+4 <= end; i += 4 {
		brands = append(brands, string(data[i:i+4]))
	}
	for _, b := range brands {
		switch b {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
			return "image/heic", true
		case "avif", "avis":
			return "image/avif", true
		}
	}
	for _, b := range brands {
		if b == "mif1" || b == "msf1" {
			return "image/heif", true
		}
	}
	return "", false
}

// checkBoxes walks an ISO-BMFF file's top-level boxes: one that runs past
// the end means the file was cut short.
func checkBoxes(data []byte) error {
	for i := 0; i < len(data); {
		if len(data)-i < 8 {
			return errors.New("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(data[i:]))
		header := uint64(8)
		switch size {
		case 0: // the box runs to the end of the file
			return nil
		case 1: // a 64-bit size follows the type
			if len(data)-i < 16 {
				return errors.New("truncated box header")
			}
			size, header = binary.BigEndian.Uint64(data[i+8:]), 16
		}
		if size < header || size > uint64(len(data)-i) {
			return fmt.Errorf("box %q of %d bytes runs past the end", data[i+4:i+8], size)
		}
		i += int(size)
	}
	return nil
}

// checkJPEGEnd walks a JPEG's marker segments to the main image's start of
// scan (skipping the EXIF thumbnail, a whole JPEG inside APP1) and looks for
// the EOI after it. Entropy-coded data escapes 0xFF, so an FF D9 there is
// the real end; bytes after it (some phones append a trailer) are allowed.
func checkJPEGEnd(data []byte) error {
	i := 2 // after SOI, which DecodeConfig checked
	for {
		if i+2 > len(data) {
			return errors.New("no start of scan")
		}
		if data[i] != 0xFF {
			return fmt.Errorf("no marker at byte %d", i)
		}
		if data[i+1] == 0xFF { // a fill byte before the marker
			i++
			continue
		}
		marker := data[i+1]
		i += 2
		if marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) {
			continue // markers without a length
		}
		if marker == 0xD9 {
			return errors.New("end of image before any scan")
		}
		if i+2 > len(data) {
			return errors.New("truncated segment")
		}
		i += int(binary.BigEndian.Uint16(data[i:]))
		if i > len(data) {
			return errors.New("truncated segment")
		}
		if marker == 0xDA { // start of scan
			if !bytes.Contains(data[i:], []byte{0xFF, 0xD9}) {
				return errors.New("no end of image: the file was cut short")
			}
			return nil
		}
	}
}

// checkPNGChunks walks a PNG's chunks to IEND: one that runs past the end
// means the file was cut short. CRCs are not checked.
func checkPNGChunks(data []byte) error {
	for i := 8; ; { // after the signature, which DecodeConfig checked
		if len(data)-i < 12 {
			return errors.New("no IEND chunk: the file was cut short")
		}
		n := uint64(binary.BigEndian.Uint32(data[i:]))
		if n > uint64(len(data)-i-12) {
			return fmt.Errorf("chunk %q of %d bytes runs past the end", data[i+4:i+8], n)
		}
		if string(data[i+4:i+8]) == "IEND" {
			return nil
		}
		i += 12 + int(n)
	}
}

// checkRIFFLength compares a WebP's length with the one its RIFF header
// declares.
func checkRIFFLength(data []byte) error {
	declared := uint64(binary.LittleEndian.Uint32(data[4:8])) + 8 // sniffing saw 12 bytes
	if uint64(len(data)) < declared {
		return fmt.Errorf("%d bytes of the declared %d: the file was cut short", len(data), declared)
	}
	return nil
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
