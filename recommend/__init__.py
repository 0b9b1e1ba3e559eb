"""Sessions and playlists: seeds from the prior -> ANN -> merge -> diversify -> store, and the REST API."""
