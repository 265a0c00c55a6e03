import subprocess
import sys

from tests.dags.conftest import DAGS, ROOT


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"pwatch_daily", "pwatch_audit"} <= set(dagbag.dag_ids)


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 100, dag_id
        for task in dag.tasks:
            assert task.retries >= 2, (dag_id, task.task_id)
            assert task.doc_md, (dag_id, task.task_id)
            assert task.execution_timeout is not None, (dag_id, task.task_id)


def test_daily_dag_maps_crawl_per_platform_then_chains_steps(dagbag):
    dag = dagbag.get_dag("pwatch_daily")
    order = ["prepare", "crawl", "detect", "reconcile", "notify", "report"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(dag.get_task("crawl"), MappedOperator)


def test_parsing_dag_files_imports_neither_scrapy_nor_spacy():
    probe = (
        "import runpy, sys\n"
        f"for name in ('pwatch_daily.py', 'pwatch_audit.py'):\n"
        f"    runpy.run_path(r'{DAGS}/' + name)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'spacy', 'thinc'))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
