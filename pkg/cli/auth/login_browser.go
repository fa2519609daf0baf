package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/oauth2"
)

// The browser half of `sfp login --provider` and `--sso`, as `gh auth login
// --web` does it: a one-shot HTTP server on a loopback port the kernel
// picks receives the redirect that ends the sign-in; the browser is opened
// when there is one, and the URL is always printed so it can be opened by
// hand (or on another machine, with a tunnel).

// browserTimeout is how long the CLI waits for the browser to come back.
const browserTimeout = 10 * time.Minute

// callbackResult is what the loopback callback received.
type callbackResult struct {
	code string
	err  error
}

// pkceVerifier returns a PKCE verifier and its S256 challenge.
func pkceVerifier() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// browserSignIn listens on a loopback port, asks start for the URL that
// begins the sign-in (given the loopback redirect target), sends the user
// there and returns the code the server's redirect brings back.
func browserSignIn(ctx context.Context, opts *LoginOptions, start func(redirectTo string) (string, error)) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for the browser's return: %w", err)
	}
	defer ln.Close()
	redirectTo := fmt.Sprintf("http://%s/callback", ln.Addr())
	results := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(results), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		// Let the browser's page finish before the server goes.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	target, err := start(redirectTo)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Open this URL in a browser to sign in:\n  %s\n", target)
	open := opts.OpenBrowser
	if open == nil {
		open = openBrowser
	}
	if err := open(target); err == nil {
		fmt.Fprintln(opts.IO.ErrOut, "(opened in your browser; waiting for it to come back)")
	}
	ctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	select {
	case r := <-results:
		return r.code, r.err
	case <-ctx.Done():
		return "", fmt.Errorf("no sign-in came back to %s within %s: %w", redirectTo, browserTimeout, ctx.Err())
	}
}

// callbackHandler takes the first request to /callback: ?code= on
// success, GoTrue's error parameters (query or fragment-less) otherwise.
func callbackHandler(results chan<- callbackResult) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		res := callbackResult{code: q.Get("code")}
		switch {
		case q.Get("error") != "" || q.Get("error_code") != "":
			res.err = fmt.Errorf("sign-in refused: %s (%s)", q.Get("error_description"), firstOf(q.Get("error_code"), q.Get("error")))
		case res.code == "":
			res.err = errors.New("sign-in came back without a code")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if res.err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "sfp: %v\nYou can close this window.\n", res.err)
		} else {
			fmt.Fprintln(w, "sfp: signed in. You can close this window and return to the terminal.")
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case results <- res:
		default: // a second visit: the first one counts
		}
	})
	return mux
}

// openBrowser opens url in the desktop's browser, when there is a desktop.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no display")
		}
		cmd = exec.Command("xdg-open", url)
	}
	return cmd.Start()
}
