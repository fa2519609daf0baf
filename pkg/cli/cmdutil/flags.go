package cmdutil

// IfChanged is p when the flag was given, else nil: how an update command
// tells a field to change (a given "" clears it) from a field to keep.
// changed is the command's cmd.Flags().Changed.
func IfChanged[T any](changed func(string) bool, flag string, p *T) *T {
	if changed(flag) {
		return p
	}
	return nil
}
