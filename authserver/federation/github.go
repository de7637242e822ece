package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// githubProvider signs users in with GitHub's OAuth apps: OAuth 2.0
// without OpenID Connect, so who signed in comes from its REST API
// (docs.github.com: "Authorizing OAuth apps", "REST API endpoints for
// users", ".../emails", ".../orgs", ".../teams").
type githubProvider struct {
	cfg   *Config
	oauth oauth2.Config
	api   string
}

func newGitHub(cfg *Config) (*githubProvider, error) {
	if cfg.ClientSecret == "" {
		return nil, fmt.Errorf("provider %s: client_secret is required", cfg.Name)
	}
	web, api := strings.TrimSuffix(cfg.GitHubURL, "/"), strings.TrimSuffix(cfg.GitHubAPIURL, "/")
	if web == "" {
		web = "https://github.com"
	}
	if api == "" {
		api = "https://api.github.com"
	}
	for _, u := range []string{web, api} {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "https" && !isLoopback(pu.Hostname())) {
			return nil, fmt.Errorf("provider %s: %q must be an https URL", cfg.Name, u)
		}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"read:user", "user:email"}
		if cfg.GitHubOrgGroups {
			cfg.Scopes = append(cfg.Scopes, "read:org")
		}
	}
	return &githubProvider{cfg: cfg, api: api, oauth: oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Scopes:       cfg.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   web + "/login/oauth/authorize",
			TokenURL:  web + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}}, nil
}

func (g *githubProvider) config(redirectURI string) *oauth2.Config {
	c := g.oauth
	c.RedirectURL = redirectURI
	return &c
}

func (g *githubProvider) authCodeURL(_ context.Context, redirectURI string, f Flow, h Hints) (string, error) {
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}
	if h.LoginHint != "" {
		// GitHub's name for it: "suggests a specific account to use".
		opts = append(opts, oauth2.SetAuthURLParam("login", h.LoginHint))
	}
	return g.config(redirectURI).AuthCodeURL(f.State, opts...), nil
}

func (g *githubProvider) callback(ctx context.Context, redirectURI string, f Flow, q url.Values) (*Identity, error) {
	if err := errorResponse(q); err != nil {
		return nil, err
	}
	code := q.Get("code")
	if code == "" || len(code) > 2048 {
		return nil, fail(CauseUpstreamError, "the callback carries no usable code")
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.cfg.HTTPClient)
	tok, err := g.config(redirectURI).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, exchangeError(err)
	}
	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := g.get(ctx, tok.AccessToken, "/user", &user); err != nil {
		return nil, err
	}
	id := &Identity{Username: user.Login, Name: user.Name}
	if user.ID > 0 {
		// The numeric id stays when a user renames their login.
		id.Subject = strconv.FormatInt(user.ID, 10)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := g.get(ctx, tok.AccessToken, "/user/emails", &emails); err != nil {
		return nil, err
	}
	// Only the primary address, and only once GitHub has verified it: an
	// unverified address proves nothing about who owns it.
	for _, e := range emails {
		if e.Primary && e.Verified {
			id.Email, id.EmailVerified = e.Email, true
		}
	}
	if g.cfg.GitHubOrgGroups {
		var orgs []struct {
			Login string `json:"login"`
		}
		if err := g.get(ctx, tok.AccessToken, "/user/orgs?per_page=100", &orgs); err != nil {
			return nil, err
		}
		for _, o := range orgs {
			id.Groups = append(id.Groups, o.Login)
		}
		var teams []struct {
			Slug         string `json:"slug"`
			Organization struct {
				Login string `json:"login"`
			} `json:"organization"`
		}
		if err := g.get(ctx, tok.AccessToken, "/user/teams?per_page=100", &teams); err != nil {
			return nil, err
		}
		for _, t := range teams {
			id.Groups = append(id.Groups, t.Organization.Login+"/"+t.Slug)
		}
	}
	return id, nil
}

// maxAPIResponse bounds what is read of one API answer.
const maxAPIResponse = 1 << 20

func (g *githubProvider) get(ctx context.Context, accessToken, path string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+path, nil)
	if err != nil {
		return fail(CauseProfile, "%s: %v", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return fail(CauseUnreachable, "%s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(CauseProfile, "%s answered %s", path, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAPIResponse)).Decode(dst); err != nil {
		return fail(CauseProfile, "%s: %v", path, err)
	}
	return nil
}
