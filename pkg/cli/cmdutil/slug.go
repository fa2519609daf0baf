package cmdutil

import (
	"fmt"

	"github.com/sfp-dev/sfp/pkg/client"
)

// SlugFromName derives an account's slug from its name with
// client.Slugify — the function the runtime uses for the admin's account
// too — and says in words, naming the limit, why a name gives none.
func SlugFromName(name string) (string, error) {
	slug := client.Slugify(name)
	if client.CheckSlug(slug) != nil {
		return "", fmt.Errorf("an account slug has 1 to %d lowercase letters, digits or hyphens, and %q gives %d",
			client.MaxSlugLength, name, len(slug))
	}
	return slug, nil
}
