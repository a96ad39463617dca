package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/visionbot/visionbot/internal/failure"
)

// Supported names every kind of file the bot reads, for the texts that
// tell people what to send instead of something it can't read.
const Supported = "photos and screenshots (" + SupportedFormats + "), PDFs, videos (MP4, MOV, WebM) " +
	"and voice or audio clips (MP3, M4A, AAC, WAV, OGG, FLAC)"

// SniffSize is how much of a file Identify looks at, and Sniff reads: the
// signatures and the first boxes, chunks or pages of every format here
// fit in it.
const SniffSize = 64 << 10

// Kind is what sort of media a file is, which decides how the model reads
// it and what it costs.
type Kind int

const (
	KindUnknown Kind = iota
	KindImage
	KindDocument // a PDF
	KindVideo
	KindAudio
)

func (k Kind) String() string {
	switch k {
	case KindImage:
		return "image"
	case KindDocument:
		return "document"
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	}
	return "unknown"
}

// Type is what a file's bytes are, whatever it was declared to be.
type Type struct {
	Kind Kind
	// MIMEType is the format's registered type ("video/mp4",
	// "audio/mpeg"); the model adapter says it in Gemini's words.
	MIMEType string
	// Format is the format's short name, for people ("MP4", "PDF").
	Format string
}

// Sniff reads at most SniffSize bytes of r and names what they are. The
// reader it returns gives r's bytes again from the first, so a stream can
// go on to the model (or to Probe) without being held whole.
func Sniff(r io.Reader) (Type, io.Reader, error) {
	head := make([]byte, SniffSize)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	rest := io.MultiReader(bytes.NewReader(head), r)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Type{}, rest, fmt.Errorf("sniff: %w", err)
	}
	t, err := Identify(head)
	return t, rest, err
}

// Identify names the type of a file from its first bytes (it looks at no
// more than SniffSize of them). It accepts the images, PDFs, videos and
// audio the bot reads; anything else is a *failure.Error that says what
// the file is: failure.UnsupportedFile ("a Word document"), failure.SVG,
// failure.FilesScope for Slack's sign-in page, failure.CorruptImage for
// an empty file.
func Identify(head []byte) (Type, error) {
	const op = "identify file"
	head = head[:min(len(head), SniffSize)]
	if len(head) == 0 {
		return Type{}, failure.Errorf(op, failure.CorruptImage, "", errors.New("empty file"))
	}
	if isHTML(head) {
		// Slack answers a download it refuses with its sign-in page.
		return Type{}, failure.Errorf(op, failure.FilesScope, "", nil)
	}
	if isSVG(head) {
		return Type{}, failure.Errorf(op, failure.SVG, "", nil)
	}
	t, refusal := identify(head)
	if refusal != "" {
		return Type{}, failure.Errorf(op, failure.UnsupportedFile, refusal, nil)
	}
	return t, nil
}

// identify is Identify after the checks that are not formats: a type, or
// the words that name a file the bot does not read.
func identify(head []byte) (Type, string) {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return Type{KindDocument, "application/pdf", "PDF"}, ""
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return identifyISOBMFF(head)
	case bytes.HasPrefix(head, ebmlMagic):
		return identifyEBML(head)
	case len(head) >= 12 && string(head[:4]) == "RIFF":
		switch string(head[8:12]) {
		case "WAVE":
			return Type{KindAudio, "audio/wav", "WAV"}, ""
		case "WEBP":
			return Type{KindImage, "image/webp", "WEBP"}, ""
		case "AVI ":
			return Type{}, "an AVI video"
		}
		return Type{}, "a file I don't recognise"
	case bytes.HasPrefix(head, []byte("OggS")):
		return identifyOgg(head)
	case bytes.HasPrefix(head, []byte("fLaC")):
		return Type{KindAudio, "audio/flac", "FLAC"}, ""
	case bytes.HasPrefix(head, []byte("ID3")):
		return identifyID3(head)
	}
	if t, ok := identifyFrames(head); ok {
		return t, ""
	}
	switch mime := sniff(head); mime {
	case "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif":
		return Type{KindImage, mime, formatName(mime)}, ""
	default:
		if isPDF(head) {
			return Type{KindDocument, "application/pdf", "PDF"}, ""
		}
		if office := officeName(head); office != "" {
			return Type{}, office
		}
		return Type{}, describeSniffed(mime)
	}
}

// isPDF reports a PDF header: "%PDF-", which the format allows anywhere in
// the first 1024 bytes (some writers put a line of their own before it).
// It is looked for there only once no other format's signature matched:
// an image's metadata may quote it.
func isPDF(head []byte) bool {
	return bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-"))
}

// identifyISOBMFF names an ISO base media file (MP4, MOV, M4A, HEIC) from
// its ftyp box: the major brand decides first, then the compatible ones.
// A generic brand (isom, mp42) says nothing of the tracks, so an M4A that
// calls itself isom is video/mp4 here; Probe, which reads the tracks,
// tells it apart.
func identifyISOBMFF(head []byte) (Type, string) {
	if mime, ok := sniffISOBMFF(head); ok {
		switch mime {
		case "image/heic", "image/heif":
			return Type{KindImage, mime, "HEIC"}, ""
		}
		return Type{}, describeSniffed(mime)
	}
	end := min(int(binary.BigEndian.Uint32(head)), len(head))
	brands := []string{string(head[8:12])}
	for i := 16; i+4 <= end; i += 4 {
		brands = append(brands, string(head[i:i+4]))
	}
	for _, b := range brands {
		switch {
		case b == "M4A " || b == "M4B " || b == "M4P " || b == "F4A " || b == "F4B ":
			return Type{KindAudio, "audio/mp4", "M4A"}, ""
		case b == "qt  ":
			return Type{KindVideo, "video/quicktime", "MOV"}, ""
		case strings.HasPrefix(b, "3g"):
			return Type{KindVideo, "video/3gpp", "3GP"}, ""
		case b == "isom" || b == "mp41" || b == "mp42" || b == "avc1" || b == "M4V " || b == "M4VH" ||
			b == "M4VP" || b == "dash" || b == "mmp4" || b == "MSNV" || b == "XAVC" || b == "f4v " ||
			b == "iso2" || b == "iso3" || b == "iso4" || b == "iso5" || b == "iso6" || b == "iso8" || b == "iso9":
			return Type{KindVideo, "video/mp4", "MP4"}, ""
		}
	}
	return Type{}, "a file I don't recognise"
}

// officeName names the office documents people post where a photo was
// expected, so that the refusal says what the file is. OOXML and
// OpenDocument files are ZIP archives whose first entries give them away;
// the older binary formats are OLE2 compound files.
func officeName(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return "an Office document in the older format (.doc, .xls or .ppt)"
	case bytes.HasPrefix(head, []byte("{\\rtf")):
		return "an RTF document"
	case !bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return ""
	}
	switch {
	case bytes.Contains(head, []byte("word/")), bytes.Contains(head, []byte("opendocument.text")):
		return "a Word document"
	case bytes.Contains(head, []byte("xl/")), bytes.Contains(head, []byte("opendocument.spreadsheet")):
		return "a spreadsheet"
	case bytes.Contains(head, []byte("ppt/")), bytes.Contains(head, []byte("opendocument.presentation")):
		return "a presentation"
	}
	return ""
}

// describe names an accepted type for a user: "a PDF", "an MP4 video".
func describe(t Type) string {
	switch t.Kind {
	case KindDocument:
		return "a PDF"
	case KindVideo:
		return article(t.Format) + " " + t.Format + " video"
	case KindAudio:
		return article(t.Format) + " " + t.Format + " audio file"
	case KindImage:
		return article(t.Format) + " " + t.Format + " image"
	}
	return "a file I don't recognise"
}

// article is "an" before the format names said with a vowel sound ("an
// MP4", "an OGG"), "a" before the others ("a WAV", "a HEIC").
func article(format string) string {
	switch format {
	case "MP4", "MP3", "M4A", "AAC", "OGG", "MKV", "AVI":
		return "an"
	}
	return "a"
}
