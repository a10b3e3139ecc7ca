from collections import Counter

from mmf_imgtune.trainer.sampling import ResumableBatchSampler


def test_order_is_a_function_of_seed_and_epoch():
    a = ResumableBatchSampler([50, 30], 4, seed=3)
    b = ResumableBatchSampler([50, 30], 4, seed=3)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)


def test_batches_hold_one_dataset_and_visit_in_proportion_to_size():
    sampler = ResumableBatchSampler([400, 100], 10, seed=0)
    owners = [0 if max(batch) < 400 else 1 for batch in sampler]
    for batch in sampler:
        assert all(i < 400 for i in batch) or all(i >= 400 for i in batch)
    counts = Counter(owners)
    assert counts == {0: 40, 1: 10}
    # Interleaved, not one dataset after the other.
    assert owners.index(1) < 30


def test_resume_skips_exactly_the_trained_batches():
    full = list(ResumableBatchSampler([64], 8, seed=1))
    resumed = ResumableBatchSampler([64], 8, seed=1)
    resumed.resume_at(epoch=0, batches_done=3)
    assert list(resumed) == full[3:]
    assert list(resumed) == full  # only once


def test_ranks_get_disjoint_equal_shards():
    shards = [list(ResumableBatchSampler([70], 5, seed=0, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    seen = [i for shard in shards for batch in shard for i in batch]
    assert len(seen) == len(set(seen))


def test_eval_sampling_keeps_order_and_last_partial_batch():
    batches = list(ResumableBatchSampler([7], 3, seed=0, shuffle=False, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_epoch_reaches_datasets_that_vary_by_epoch():
    from mmf_imgtune.trainer.sampling import MultiDataset

    class PerEpoch(list):
        epoch = None

        def set_epoch(self, epoch):
            self.epoch = epoch

    dataset = PerEpoch(range(8))
    multi = MultiDataset([dataset, list(range(4))], ["a", "b"])
    sampler = ResumableBatchSampler([8, 4], 2, seed=0)
    sampler.epoch_listeners = [multi.set_epoch]
    sampler.sampler.set_epoch(3)  # how Lightning reaches it: batch_sampler.sampler.set_epoch
    assert multi.varies_by_epoch and dataset.epoch == 3 and sampler.epoch == 3


def test_ranks_split_each_global_batch_of_one_process():
    """N ranks at a per-device batch b see, step by step, one process's batches of N * b."""
    single = list(ResumableBatchSampler([70, 30], 8, seed=4))
    shards = [
        list(ResumableBatchSampler([70, 30], 4, seed=4, rank=r, world_size=2)) for r in (0, 1)
    ]
    assert [a + b for a, b in zip(*shards)] == single
