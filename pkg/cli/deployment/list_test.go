package deployment

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// listRun works without cobra: the options are built by hand and the client
// is a live tenant's. Without --project, deployments to the environments of
// two projects are listed with the environments' names, not id prefixes.
func TestListRunNamesEnvironmentsWithoutProject(t *testing.T) {
	s := stacktest.Shared()
	ctx := context.Background()
	u := s.NewUser(t)
	sess := &client.Session{AccessToken: u.AccessToken, RefreshToken: u.RefreshToken}
	userClient := func(context.Context) (*client.Client, error) {
		return client.New(s.URL, s.AnonKey, client.WithSession(sess))
	}
	c, err := userClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := c.Accounts.Create(ctx, "Names "+u.ID[:8], "")
	if err != nil {
		t.Fatal(err)
	}
	var envIDs []string
	for _, p := range []struct{ project, env string }{{"acme/web", "staging-eu"}, {"acme/api", "prod-us"}} {
		pr, err := c.Projects.Create(ctx, client.NewProject{AccountID: a.ID, Identifier: p.project})
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Environments.Create(ctx, client.NewEnvironment{ProjectID: pr.ID, Name: p.env})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: e.ID}); err != nil {
			t.Fatal(err)
		}
		envIDs = append(envIDs, e.ID)
	}

	ios, _, out, _ := cmdutil.Test()
	opts := &ListOptions{ListInputs: cmdutil.ListInputs{
		Deps: cmdutil.Deps{IO: ios, Client: userClient, Config: func() (*cmdutil.Config, error) { return &cmdutil.Config{}, nil }},
		List: cmdutil.ListFlags{Limit: 10},
	}}
	if err := listRun(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"staging-eu", "prod-us"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no environment %s in\n%s", want, out)
		}
	}
	for _, id := range envIDs {
		if strings.Contains(out.String(), id[:8]) {
			t.Errorf("an environment id prefix (%s) instead of its name in\n%s", id[:8], out)
		}
	}
	if first, _, _ := bytes.Cut(out.Bytes(), []byte("\n")); !strings.HasPrefix(string(first), "ID ") {
		t.Errorf("header %q", first)
	}
}
