"""``factoryos.controller``: the kopf operator adapter. Imports the core only.

``handlers`` registers the kopf handlers, which only decide when to run the
core's reconcile pass (``factoryos.controlplane.Reconciler``) over the
cluster's store and launcher (``KubeStore``, ``KubeJobLauncher``);
``python -m factoryos.controller`` runs the operator (the Deployment's command).
"""
