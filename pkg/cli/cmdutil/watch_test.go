package cmdutil

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/client"
)

// On a terminal every frame of the progress bar shows the status and the
// percentage of one update: a change of both never shows the old status
// with the new percentage (or the reverse), not even for one frame.
func TestWatchBarFramesPairStatusAndProgress(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetTTY(false, false, true)
	p := newWatchPrinter(ios, "task 1234abcd", false)
	updates := []client.Update{
		{Status: "queued", Progress: 0},
		{Status: "running", Progress: 10, Message: "starting"},
		{Status: "running", Progress: 55, Message: "starting"},
		{Status: "succeeded", Progress: 100, Message: "done", Final: true},
	}
	for _, u := range updates {
		if err := p.print(u); err != nil {
			t.Fatal(err)
		}
	}
	p.end()
	frame := regexp.MustCompile(`task 1234abcd (\w+) \[[=> ]{30}\] +(\d+)%`)
	var got []string
	for _, part := range strings.Split(errOut.String(), "\r\x1b[K") {
		if m := frame.FindStringSubmatch(part); m != nil {
			got = append(got, m[1]+" "+m[2])
		}
	}
	want := []string{"queued 0", "running 10", "running 55", "succeeded 100"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("frames %q, want %q\n%q", got, want, errOut.String())
	}
	if !strings.Contains(errOut.String(), "• task 1234abcd running: starting\n") || !strings.HasSuffix(errOut.String(), "100%\n") {
		t.Fatalf("status lines or the last bar missing:\n%q", errOut.String())
	}
}

// Without a terminal: one line per change of status or message, none for
// progress alone.
func TestWatchLinesWithoutTerminal(t *testing.T) {
	ios, _, _, errOut := Test()
	p := newWatchPrinter(ios, "deployment 1234abcd", false)
	for _, u := range []client.Update{
		{Status: "running", Progress: 10, Message: "validating"},
		{Status: "running", Progress: 60, Message: "validating"},
		{Status: "failed", Progress: 60, Message: "tests broke", Final: true},
	} {
		if err := p.print(u); err != nil {
			t.Fatal(err)
		}
	}
	p.end()
	want := "[ 10%] deployment 1234abcd running: validating\n[ 60%] deployment 1234abcd failed: tests broke\n"
	if errOut.String() != want {
		t.Fatalf("got %q, want %q", errOut.String(), want)
	}
}
