terraform {
  required_version = ">= 1.0"
  required_providers {
    aksid = {
      source = "aksid/aksid"
      # `aksid` works in the spoke's subscription; `aksid.hub` writes the grants on the hub's
      # shared resources (often a different deployer with rights there).
      configuration_aliases = [aksid.hub]
    }
  }
}
