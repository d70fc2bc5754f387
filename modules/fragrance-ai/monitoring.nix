# Monitoring, when the host runs it: Prometheus (services.prometheus.enable) scrapes the API
# and every worker replica with a metricsPort, with the alert and recording rules of
# fragrance_ai/configs/prometheus; Grafana (services.grafana.enable) gets the dashboards of
# fragrance_ai/configs/grafana and, with Prometheus here too, it as a data source.
{
  config,
  lib,
  ...
}:
let
  inherit (lib) mkIf;
  inherit (import ./common.nix { inherit config lib; })
    apiHost
    cfg
    enabledWorkers
    hostPort
    metricsPorts
    ;

  prometheusEnabled = config.services.prometheus.enable;
  grafanaEnabled = config.services.grafana.enable;
  # Workers serve /metrics on API_HOST too (fragrance_ai/worker/main.py); a wildcard address
  # is reached on loopback.
  scrapeHost =
    if apiHost == "0.0.0.0" then
      "127.0.0.1"
    else if apiHost == "::" then
      "::1"
    else
      apiHost;
  scrapeConfigs = [
    {
      job_name = "fragrance-ai-api";
      static_configs = [ { targets = [ (hostPort scrapeHost cfg.api.port) ]; } ];
    }
  ]
  ++ lib.optional (metricsPorts != [ ]) {
    job_name = "fragrance-ai-workers";
    static_configs = lib.mapAttrsToList (name: worker: {
      targets = map (port: hostPort scrapeHost port) (
        lib.range worker.metricsPort (worker.metricsPort + worker.replicas - 1)
      );
      labels.group = name;
    }) (lib.filterAttrs (_: worker: worker.metricsPort != null) enabledWorkers);
  };
in
{
  config = mkIf cfg.enable {
    # mkIf on each leaf: a condition on services.prometheus.enable around the whole of
    # services.prometheus would be defined in terms of itself.
    services.prometheus = {
      scrapeConfigs = mkIf prometheusEnabled scrapeConfigs;
      # Alert and recording rules on the metrics the application exports.
      ruleFiles = mkIf prometheusEnabled [ ../../fragrance_ai/configs/prometheus/rules.yml ];
    };

    services.grafana = {
      provision.enable = mkIf grafanaEnabled true;
      # Every dashboard JSON in fragrance_ai/configs/grafana, read-only (edits belong in the repository).
      provision.dashboards.settings = mkIf grafanaEnabled {
        providers = [
          {
            name = "fragrance-ai";
            folder = "Fragrance AI";
            options.path = ../../fragrance_ai/configs/grafana;
            disableDeletion = true;
            allowUiUpdates = false;
          }
        ];
      };
      # This host's Prometheus as a data source, when it runs one.
      provision.datasources.settings = mkIf (grafanaEnabled && prometheusEnabled) {
        datasources = [
          {
            name = "Prometheus (fragrance-ai)";
            uid = "fragrance-ai-prometheus";
            type = "prometheus";
            url = "http://${hostPort "127.0.0.1" config.services.prometheus.port}";
          }
        ];
      };
    };
  };
}
