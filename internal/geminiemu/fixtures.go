package geminiemu

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The two error bodies the emulator sends on its own are copies of
// googleai/unary-failure-api-key.json and googleai/unary-failure-unknown-model.json
// (FirebaseExtended/vertexai-sdk-test-data, Apache-2.0), held as constants so
// that the emulator also runs where the repository is not the working tree
// (a benchmark binary); a test checks they still equal the fixture files.

// apiKeyInvalidBody is sent with 400 when x-goog-api-key differs from SetAPIKey.
const apiKeyInvalidBody = `{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {
          "service": "generativelanguage.googleapis.com"
        }
      },
      {
        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
        "locale": "en-US",
        "message": "API key not valid. Please pass a valid API key."
      },
      {
        "@type": "type.googleapis.com/google.rpc.DebugInfo",
        "detail": "Invalid API key: key1234"
      }
    ]
  }
}
`

// unknownModelFixture is the 404 for a model the API does not serve, as
// recorded for gemini-5.0-flash under v1; unknownModelBody names the
// model and version of the request instead.
const unknownModelFixture = `{
  "error": {
    "code": 404,
    "message": "models/gemini-5.0-flash is not found for API version v1, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.",
    "status": "NOT_FOUND",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.DebugInfo",
        "detail": "[ORIGINAL ERROR] generic::not_found: models/gemini-5.0-flash is not found for API version v1, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods. [google.rpc.error_details_ext] { message: \"models/gemini-5.0-flash is not found for API version v1, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.\" }"
      },
      {
        "@type": "type.googleapis.com/google.rpc.DebugInfo",
        "detail": "models/gemini-5.0-flash is not found for API version v1, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
      }
    ]
  }
}
`

// unknownModelBody is sent with 404 for a model the emulator does not serve
// under the request's API version: the recorded body, naming them.
func unknownModelBody(model, version string) []byte {
	return []byte(strings.NewReplacer(
		"models/gemini-5.0-flash", "models/"+model,
		"API version v1,", "API version "+version+",",
	).Replace(unknownModelFixture))
}

// fixtureDir is where recorded Gemini responses live, relative to the
// repository root.
const fixtureDir = "internal/fixtures/data/gemini"

// FixturePath returns the absolute path of internal/fixtures/data/gemini/<relPath>.
// For brevity, "googleai/…" and "vertexai/…" may omit their
// firebase-vertexai-sdk-test-data/ folder.
func FixturePath(t testing.TB, relPath string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("geminiemu: %v", err)
	}
	for _, p := range []string{
		filepath.Join(root, fixtureDir, filepath.FromSlash(relPath)),
		filepath.Join(root, fixtureDir, "firebase-vertexai-sdk-test-data", filepath.FromSlash(relPath)),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("geminiemu: no fixture %q under %s", relPath, filepath.Join(root, fixtureDir))
	return ""
}

// FixtureReply reads a recorded response into Reply.Body. A JSON error body
// ({"error":{"code":N,…}}, whatever the file's extension) sets Status to N,
// as the real API sends such bodies with that HTTP status.
func FixtureReply(t testing.TB, relPath string) Reply {
	t.Helper()
	body, err := os.ReadFile(FixturePath(t, relPath))
	if err != nil {
		t.Fatalf("geminiemu: %v", err)
	}
	return Reply{Status: errorCode(body), Body: body}
}

// errorCode returns error.code of a JSON error body, or 0 for anything else
// (an SSE stream, a successful response).
func errorCode(body []byte) int {
	var e struct {
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == nil {
		return 0
	}
	return e.Error.Code
}

// repoRoot walks up from the working directory (a package directory under
// go test) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
