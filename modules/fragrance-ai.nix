# Kept for hosts that import this path: the module is now the directory modules/fragrance-ai/
# (default.nix lists its files; options.nix holds every option).
{
  imports = [ ./fragrance-ai ];
}
