from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

_Buffer = Any  # any object with the buffer protocol holding float32 or float64
_Reduction = Literal["mean", "sum", "none"]
_Layout = Literal["NCHW", "NHWC"]
_Value = float | npt.NDArray[np.float64]

__version__: str
VERSION: str
RUNTIME_VERSION: str
BUILD_INFO: str

@overload
def l1(pred: _Buffer, target: _Buffer, *, mask: _Buffer | None = ..., reduction: _Reduction = ...,
       layout: _Layout = ..., grad: Literal[False] = ..., out: None = ...) -> _Value: ...
@overload
def l1(pred: _Buffer, target: _Buffer, *, mask: _Buffer | None = ..., reduction: _Reduction = ...,
       layout: _Layout = ..., grad: Literal[True], out: _Buffer | None = ...) -> tuple[_Value, Any]: ...
@overload
def mse(pred: _Buffer, target: _Buffer, *, mask: _Buffer | None = ..., reduction: _Reduction = ...,
        layout: _Layout = ..., grad: Literal[False] = ..., out: None = ...) -> _Value: ...
@overload
def mse(pred: _Buffer, target: _Buffer, *, mask: _Buffer | None = ..., reduction: _Reduction = ...,
        layout: _Layout = ..., grad: Literal[True], out: _Buffer | None = ...) -> tuple[_Value, Any]: ...
@overload
def psnr(pred: _Buffer, target: _Buffer, *, data_range: float = ..., reduction: _Reduction = ...,
         layout: _Layout = ..., grad: Literal[False] = ..., out: None = ...) -> _Value: ...
@overload
def psnr(pred: _Buffer, target: _Buffer, *, data_range: float = ..., reduction: _Reduction = ...,
         layout: _Layout = ..., grad: Literal[True], out: _Buffer | None = ...) -> tuple[_Value, Any]: ...
@overload
def tv(x: _Buffer, *, kind: Literal["anisotropic", "isotropic", "squared"] = ..., eps: float = ...,
       reduction: _Reduction = ..., layout: _Layout = ..., grad: Literal[False] = ..., out: None = ...) -> _Value: ...
@overload
def tv(x: _Buffer, *, kind: Literal["anisotropic", "isotropic", "squared"] = ..., eps: float = ...,
       reduction: _Reduction = ..., layout: _Layout = ..., grad: Literal[True], out: _Buffer | None = ...) -> tuple[_Value, Any]: ...
def cross_entropy(logits: _Buffer, target: _Buffer, *, weight: _Buffer | None = ..., ignore_index: int = ...,
                  label_smoothing: float = ..., reduction: _Reduction = ..., axis: int = ..., grad: bool = ...,
                  out: _Buffer | None = ..., return_count: bool = ...) -> Any: ...
def cross_entropy_from_probs(probs: _Buffer, target: _Buffer, *, reduction: _Reduction = ..., axis: int = ...,
                             grad: bool = ..., out: _Buffer | None = ...) -> Any: ...
def binary_cross_entropy_with_logits(logits: _Buffer, target: _Buffer, *, weight: _Buffer | None = ...,
                                     pos_weight: _Buffer | None = ..., reduction: _Reduction = ...,
                                     grad: bool = ..., out: _Buffer | None = ...) -> Any: ...
def binary_cross_entropy(probs: _Buffer, target: _Buffer, *, weight: _Buffer | None = ...,
                         reduction: _Reduction = ..., grad: bool = ..., out: _Buffer | None = ...) -> Any: ...
def sigmoid_focal_loss(logits: _Buffer, target: _Buffer, *, alpha: float = ..., gamma: float = ...,
                       reduction: _Reduction = ..., grad: bool = ..., out: _Buffer | None = ...) -> Any: ...
def ssim(x: _Buffer, y: _Buffer, *, data_range: float = ..., win_size: int = ..., sigma: float = ...,
         gaussian: bool = ..., k1: float = ..., k2: float = ..., border: Literal["valid", "reflect", "zero"] = ...,
         sample_covariance: bool = ..., downsample: bool = ..., luma: bool = ..., reduction: _Reduction = ...,
         layout: _Layout = ..., full: bool = ..., channels: bool = ..., grad: bool = ...,
         out: _Buffer | None = ...) -> Any: ...
def ms_ssim(x: _Buffer, y: _Buffer, *, data_range: float = ..., win_size: int = ..., sigma: float = ...,
            gaussian: bool = ..., k1: float = ..., k2: float = ..., weights: Any = ..., relu: bool = ...,
            floor: float = ..., sample_covariance: bool = ..., downsample: bool = ..., luma: bool = ...,
            reduction: _Reduction = ..., layout: _Layout = ..., grad: bool = ..., out: _Buffer | None = ...) -> Any: ...
def ssim3d(x: _Buffer, y: _Buffer, *, data_range: float = ..., win_size: int = ..., sigma: float = ...,
           gaussian: bool = ..., k1: float = ..., k2: float = ..., sample_covariance: bool = ...,
           reduction: _Reduction = ..., channels: bool = ..., grad: bool = ..., out: _Buffer | None = ...) -> Any: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
