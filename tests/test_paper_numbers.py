"""``ExamResults.paper_numbers`` / ``paper_order``: a bank question's 题号 on each variant's paper."""

from papergen.report.data import load_exam_results


def test_numbers_match_each_variants_items(small_results):
    results = load_exam_results(small_results)
    numbers = results.paper_numbers()
    assert set(numbers) == {q.id for q in results.questions}
    for variant in results.manifest.variants:
        for item in variant.items:
            assert numbers[item.id][variant.name] == item.number
        order = results.paper_order(variant.name)
        assert [numbers[results.questions[i].id][variant.name] for i in order] == list(range(1, len(order) + 1))
