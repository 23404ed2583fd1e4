package events

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file holds the percent-encoding of binary-mode header values that the
// CloudEvents NATS binding takes from the HTTP binding, so that one event has
// the same attributes, and so the same key, in both modes.

// EncodeHeaderValue percent-encodes an attribute value for its binary-mode
// header as the binding requires: space, double quote, percent and every
// byte outside printable ASCII (U+0021 to U+007E) become %XY, upper-case.
func EncodeHeaderValue(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DecodeHeaderValue reads a binary-mode header value as the binding
// requires: a double-quoted string is unquoted first (backslash escapes
// included), then one round of percent-decoding is done (hex digits in any
// case; characters encoded without need are accepted). It fails on a
// percent sign not followed by two hex digits, an unterminated quoted string,
// or bytes that are not UTF-8.
func DecodeHeaderValue(v string) (string, error) {
	if len(v) > 0 && v[0] == '"' {
		u, err := unquoteHeaderValue(v)
		if err != nil {
			return "", err
		}
		v = u
	}
	if strings.IndexByte(v, '%') < 0 {
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("not UTF-8")
		}
		return v, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			return "", fmt.Errorf("malformed percent-encoding at byte %d", i)
		}
		out = append(out, unhex(v[i+1])<<4|unhex(v[i+2]))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("percent-encoded bytes are not UTF-8")
	}
	return string(out), nil
}

// unquoteHeaderValue reads an RFC 7230 quoted-string that is the whole value.
func unquoteHeaderValue(v string) (string, error) {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; c {
		case '"':
			if i != len(v)-1 {
				return "", fmt.Errorf("text after a quoted string")
			}
			return b.String(), nil
		case '\\':
			if i+1 >= len(v) {
				return "", fmt.Errorf("unterminated quoted string")
			}
			i++
			b.WriteByte(v[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated quoted string")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
