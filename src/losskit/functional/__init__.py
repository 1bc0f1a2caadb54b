"""Pure loss functions, one module per family; importing this registers them all.

Every function follows the conventions of DESIGN.md section 2: input first, target
second, keyword-only hyperparameters, ``weight`` and ``reduction``.
"""

from ._large_vocab import *  # noqa: F403
from .adversarial import *  # noqa: F403
from .alignment import *  # noqa: F403
from .boxes import *  # noqa: F403
from .classification import *  # noqa: F403
from .counts import *  # noqa: F403
from .distillation import *  # noqa: F403
from .distribution import *  # noqa: F403
from .energy import *  # noqa: F403
from .face import *  # noqa: F403
from .generative import *  # noqa: F403
from .image import *  # noqa: F403
from .listwise import *  # noqa: F403
from .long_tail import *  # noqa: F403
from .metric_learning import *  # noqa: F403
from .ordinal import *  # noqa: F403
from .penalties import *  # noqa: F403
from .ranking import *  # noqa: F403
from .regression import *  # noqa: F403
from .reinforcement import *  # noqa: F403
from .rl_finetuning import *  # noqa: F403
from .robust import *  # noqa: F403
from .segmentation import *  # noqa: F403
from .segmentation_topology import *  # noqa: F403
from .self_supervised import *  # noqa: F403
from .sequence import *  # noqa: F403
from .survival import *  # noqa: F403
