package bench

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
)

// photoSet is a 12-megapixel phone photo as Slack stores it: the original
// and the thumbnails Slack makes.
type photoSet struct {
	original  []byte
	thumb1024 []byte
	thumb720  []byte
}

// makePhotos draws a photo-like picture (smooth light, texture, noise) so
// that JPEG sizes are those of a real photo, not of a flat test image.
func makePhotos() (photoSet, error) {
	var p photoSet
	var err error
	for _, s := range []struct {
		w, h int
		out  *[]byte
	}{{4032, 3024, &p.original}, {1024, 768, &p.thumb1024}, {720, 540, &p.thumb720}} {
		if *s.out, err = photoJPEG(s.w, s.h); err != nil {
			return photoSet{}, err
		}
	}
	return p, nil
}

func photoJPEG(w, h int) ([]byte, error) {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	rng := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for y := range h {
		for x := range w {
			// A lit plate on a table: a radial gradient, a wood-like
			// stripe texture, and sensor noise.
			dx, dy := float64(x-w/2)/float64(w), float64(y-h/2)/float64(h)
			light := 200 - 260*(dx*dx+dy*dy)
			stripes := 12 * float64((x/7+y/23)%5)
			v := light + stripes + rng.NormFloat64()*6
			img.Y[img.YOffset(x, y)] = clamp(v)
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			i := img.COffset(x*2, y*2)
			img.Cb[i] = clamp(118 + 10*float64((x/40)%3) + rng.NormFloat64()*2)
			img.Cr[i] = clamp(150 - 8*float64((y/60)%4) + rng.NormFloat64()*2)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encode a %dx%d photo: %w", w, h, err)
	}
	return b.Bytes(), nil
}

func clamp(v float64) uint8 { return uint8(max(0, min(255, v))) }
