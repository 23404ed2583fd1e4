package gqlapi

// CreateAssetInput is the input of the createAsset mutation, bound to the schema's
// CreateAssetInput type (see genqlient.yaml). Optional fields are sent only when non-empty, so
// Amplience applies its own defaults to what the caller leaves out.
//
// The caller validates and defaults the fields (see internal/events); this package sends them
// as given.
type CreateAssetInput struct {
	// Src is the URL Amplience fetches the file from; it must be publicly reachable.
	Src string `json:"src,omitempty"`
	// Type is an AssetType value such as "IMAGE" or "VIDEO". Required.
	Type string `json:"type"`
	// Name is the asset's name, used in its published URL. Required.
	Name string `json:"name"`
	// Filename is the original file name. Required.
	Filename string `json:"filename"`
	// AssetRepositoryID is the global id of the repository the asset is created in. Required.
	AssetRepositoryID string `json:"assetRepositoryId"`
	// AssetFolderID is the folder's global id; empty means the repository root.
	AssetFolderID string `json:"assetFolderId,omitempty"`
	// Label defaults, on Amplience's side, to the source name.
	Label string `json:"label,omitempty"`
	// Locale and LocaleGroup are sent only when set.
	Locale      string `json:"locale,omitempty"`
	LocaleGroup string `json:"localeGroup,omitempty"`
	// Tags are sent only when there is at least one.
	Tags []string `json:"tags,omitempty"`
}
