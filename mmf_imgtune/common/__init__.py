from mmf_imgtune.common.collate import BatchCollator
from mmf_imgtune.common.sample import Sample, SampleList

__all__ = ["BatchCollator", "Sample", "SampleList"]
