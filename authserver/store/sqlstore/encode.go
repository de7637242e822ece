package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// millis stores a time as Unix milliseconds; the zero time is 0.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMillis reverses millis. Times come back in UTC.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// encodeList stores a string list as a JSON array; nil and empty both
// become "[]".
func encodeList(l []string) (string, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	for _, v := range l {
		// encoding/json would silently replace invalid UTF-8, so the value
		// read back would differ from the one stored.
		if !utf8.ValidString(v) {
			return "", errors.New("encode list: element is not valid UTF-8")
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("encode list: %w", err)
	}
	return string(b), nil
}

// decodeList reverses encodeList; an empty list comes back nil.
func decodeList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func encodeBytes(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeBytes(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// The value is sealed key material: report only that it is corrupt.
		return nil, errors.New("decode bytes: stored value is not valid base64")
	}
	return b, nil
}
