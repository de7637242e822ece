package authserver

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/clients"
	"github.com/gatehouse-auth/gatehouse/authserver/token"
)

// opaqueClients is a clients.Source that does not say how long its clients'
// tokens live.
type opaqueClients struct{}

func (opaqueClients) Client(context.Context, string) (*clients.Client, error) {
	return nil, clients.ErrUnknown
}

func TestKeyScheduleKeyOptions(t *testing.T) {
	const margin = keyRetentionMargin
	registry := clients.NewRegistry(clients.Static{}, nil, SupportedScopes(), clients.RegistryOptions{})
	longLived := clients.Static{"long": {ID: "long", Metadata: clients.Metadata{AccessTokenLifetime: 48 * time.Hour}}}
	for _, tt := range []struct {
		name    string
		sched   KeySchedule
		life    Lifetimes
		clients clients.Source
		want    token.KeyOptions
		wantErr string
	}{
		{name: "defaults, clients created at run time", clients: clients.NewGate(registry),
			want: token.KeyOptions{RotationInterval: 720 * time.Hour, PrePublication: 24 * time.Hour, ReloadInterval: time.Minute,
				Retention: clients.MaxAccessTokenLifetime + time.Minute + margin}},
		{name: "defaults, static clients only: the ID token lives longest", clients: clients.Static{},
			want: token.KeyOptions{RotationInterval: 720 * time.Hour, PrePublication: 24 * time.Hour, ReloadInterval: time.Minute,
				Retention: time.Hour + time.Minute + margin}},
		{name: "a client's own lifetime counts, behind the gate client too", clients: clients.NewGate(clients.NewRegistry(longLived, nil, SupportedScopes(), clients.RegistryOptions{})),
			want: token.KeyOptions{RotationInterval: 720 * time.Hour, PrePublication: 24 * time.Hour, ReloadInterval: time.Minute,
				Retention: 48*time.Hour + time.Minute + margin}},
		{name: "longer server lifetimes count", life: Lifetimes{AccessToken: 2 * time.Hour, IDToken: 3 * time.Hour}, clients: clients.Static{},
			sched: KeySchedule{ReloadInterval: 30 * time.Second},
			want: token.KeyOptions{RotationInterval: 720 * time.Hour, PrePublication: 24 * time.Hour, ReloadInterval: 30 * time.Second,
				Retention: 3*time.Hour + 30*time.Second + margin}},
		{name: "a short rotation halves the pre-publication", sched: KeySchedule{RotationInterval: 2 * time.Hour}, clients: clients.Static{},
			want: token.KeyOptions{RotationInterval: 2 * time.Hour, PrePublication: time.Hour, ReloadInterval: time.Minute,
				Retention: time.Hour + time.Minute + margin}},
		{name: "a retention just long enough", sched: KeySchedule{Retention: time.Hour + time.Minute}, clients: clients.Static{},
			want: token.KeyOptions{RotationInterval: 720 * time.Hour, PrePublication: 24 * time.Hour, ReloadInterval: time.Minute,
				Retention: time.Hour + time.Minute}},

		{name: "a retention tokens outlive", sched: KeySchedule{Retention: time.Hour}, clients: clients.Static{},
			wantErr: "key retention (1h0m0s) must be at least id_token_lifetime (1h0m0s) plus key_reload_interval (1m0s)"},
		{name: "a retention a client's tokens outlive", sched: KeySchedule{Retention: 24 * time.Hour}, clients: registry,
			wantErr: "must be at least a client's access_token_lifetime (24h0m0s) plus key_reload_interval"},
		{name: "a client source that cannot say", clients: opaqueClients{},
			wantErr: "does not say how long its clients' access tokens can live"},
		{name: "pre-publication as long as the rotation", sched: KeySchedule{RotationInterval: time.Hour, PrePublication: time.Hour}, clients: clients.Static{},
			wantErr: "key_prepublication (1h0m0s) must be shorter than key_rotation_interval"},
		{name: "pre-publication within a reload", sched: KeySchedule{PrePublication: time.Minute, ReloadInterval: time.Minute}, clients: clients.Static{},
			wantErr: "key_prepublication (1m0s) must be longer than key_reload_interval"},
		{name: "negative interval", sched: KeySchedule{ReloadInterval: -time.Minute}, clients: clients.Static{},
			wantErr: "must be positive"},
		{name: "negative retention", sched: KeySchedule{Retention: -time.Minute}, clients: clients.Static{},
			wantErr: "must not be negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sched.KeyOptions(tt.life, tt.clients)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("KeyOptions = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("KeyOptions = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestNewRefusesKeysTokensOutlive: New checks the key manager it is given,
// however its options were made.
func TestNewRefusesKeysTokensOutlive(t *testing.T) {
	registry := clients.NewGate(clients.NewRegistry(clients.Static{}, nil, SupportedScopes(), clients.RegistryOptions{IDTokenAlgorithms: []string{"ES256"}}))
	defaults, err := KeySchedule{}.KeyOptions(Lifetimes{}, registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		opts    token.KeyOptions
		life    Lifetimes
		clients clients.Source
		wantErr string // empty: accepted
	}{
		{name: "the core's defaults", opts: defaults, clients: registry},
		{name: "replaced keys kept for ever", opts: token.KeyOptions{}, clients: opaqueClients{}},
		{name: "a retention covering the ID token", opts: token.KeyOptions{Retention: 2 * time.Hour}, clients: clients.Static{}},
		{name: "a retention the ID token outlives", opts: token.KeyOptions{Retention: time.Hour}, clients: clients.Static{},
			wantErr: "key retention (1h0m0s) must be at least id_token_lifetime (1h0m0s) plus key_reload_interval (1m0s)"},
		{name: "a reload interval the retention does not cover", opts: token.KeyOptions{Retention: 2 * time.Hour, ReloadInterval: 90 * time.Minute}, clients: clients.Static{},
			wantErr: "plus key_reload_interval (1h30m0s)"},
		{name: "a longer access token lifetime", opts: token.KeyOptions{Retention: 2 * time.Hour}, life: Lifetimes{AccessToken: 4 * time.Hour}, clients: clients.Static{},
			wantErr: "at least access_token_lifetime (4h0m0s)"},
		{name: "clients created at run time", opts: token.KeyOptions{Retention: 2 * time.Hour}, clients: registry,
			wantErr: "at least a client's access_token_lifetime (24h0m0s)"},
		{name: "a client source that cannot say", opts: token.KeyOptions{Retention: 2 * time.Hour}, clients: opaqueClients{},
			wantErr: "does not say"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := coreConfig(t, openSQLite(t))
			tt.opts.Algorithms = []string{"ES256"}
			cfg.Keys = token.NewKeyManager(cfg.Store, newTestSealer(t), tt.opts)
			cfg.Lifetimes, cfg.Clients = tt.life, tt.clients
			_, err := New(cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
