package queue

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// A queued request's response_url posts as the app, to its person, for 30
// minutes: whoever reads Redis (a backup, a MONITOR, a shared instance)
// must not get it. It is sealed (AES-GCM) under a key every replica
// derives from the bot token it has anyway (cmd/visionbot's originKey),
// and bound to its request's id, so that it opens for that request only.

// sealedPrefix marks a sealed response_url; a request queued by a version
// before this one holds its URL as it is.
const sealedPrefix = "sealed1:"

// newSealer is the AEAD of key (any length: it is hashed to AES-256's).
func newSealer(key []byte) cipher.AEAD {
	if len(key) == 0 {
		panic("queue: no key to seal response URLs with")
	}
	sum := sha256.Sum256(key)
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err) // AES's block size is GCM's
	}
	return aead
}

// seal is url sealed for request; "" stays "".
func (r *Replicas) seal(url, request string) string {
	if url == "" {
		return ""
	}
	nonce := make([]byte, r.sealer.NonceSize())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(r.sealer.Seal(nonce, nonce, []byte(url), []byte(request)))
}

// errUnsealed is a sealed response_url that does not open: sealed under
// another bot token, or for another request.
var errUnsealed = errors.New("it was sealed under another key, or for another request")

// open is what seal sealed for request; a URL that was never sealed (a
// version before this one queued it) comes back as it is. Its error
// never holds the URL.
func (r *Replicas) open(sealed, request string) (string, error) {
	text, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return sealed, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(raw) < r.sealer.NonceSize() {
		return "", fmt.Errorf("open a queued response_url: %w", errUnsealed)
	}
	n := r.sealer.NonceSize()
	url, err := r.sealer.Open(nil, raw[:n], raw[n:], []byte(request))
	if err != nil {
		return "", fmt.Errorf("open a queued response_url: %w", errUnsealed)
	}
	return string(url), nil
}
