package clienttest

import (
	"testing"

	"github.com/sfp-dev/sfp/internal/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }
