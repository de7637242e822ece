package caddymodule

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
)

func TestMetadataDocumentsSource(t *testing.T) {
	src, err := (&MetadataDocumentsConfig{}).source(clients.Static{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without an allow-list, a document on this machine is refused.
	if _, err := src.Client(context.Background(), "https://127.0.0.1:1/client.json"); !errors.Is(err, clients.ErrUnknown) || !strings.Contains(err.Error(), "non-public") {
		t.Errorf("loopback document: %v", err)
	}
}
