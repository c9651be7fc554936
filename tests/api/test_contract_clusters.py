"""Clusters run the shared resource contract (tests/api/contract.py)."""

import pytest

from api.resources.clusters import CLUSTERS_RESOURCE
from catalogue.models import ClusterCategory, ClusterSearch
from catalogue.records import RecordChanges
from catalogue.services.clusters import CLUSTER_WRITES
from tests.api.contract import ResourceContract
from tests.factories import ls, make_cluster, make_cluster_config


class TestClusterContract(ResourceContract):
    resource = CLUSTERS_RESOURCE
    sub_list = "/options"
    bulk_result_extra = frozenset({"products", "options"})
    other_scopes = [["product.write"], ["category.write"], ["clusterconfig.write"]]

    @pytest.fixture(autouse=True)
    def _config(self, db):
        self.config = make_cluster_config("Contract")

    def make_record(self):
        cluster = make_cluster(
            "Drills", config=self.config, code="C-1", sources=[("erp", "K-1"), ("pim", "K-2")]
        )
        CLUSTER_WRITES.update(
            record_id=cluster.pk, changes=RecordChanges(localized={"name": {"DE": "Bohrer"}})
        )
        cluster.refresh_from_db()
        return cluster

    def make_records(self, count):
        return [make_cluster(f"Cluster {n:02d}", config=self.config) for n in range(count)]

    def create_body(self, name):
        return {"names": ls(EN=name), "clusterConfigId": self.config.pk}

    def extra_lookups(self, record):
        return [("code", "C-1", {})]

    def missing_lookups(self):
        return [("code", "NOPE", {}, "Cluster with code [NOPE]")]

    def snapshot(self):
        return (
            super().snapshot(),
            list(ClusterCategory.objects.order_by("pk").values()),
            list(ClusterSearch.objects.order_by("pk").values()),
        )
