"""Checks of solutions/06_unet.ipynb: U-Net levels, cropping a skip, soft Dice, a SegNet stage.

Every exercise's public and hidden checks come from one :func:`course_utils.checks.exercise`
call. The levels' probe only builds a model around the student's level; the judge, on that model
rebuilt from its architecture and weights, gives its convolutions random kernels and every batch
norm the identity, and compares with the level computed independently (TensorFlow's convolution
and pooling), so a level written with or without batch norm, with layers or ``keras.ops``,
passes. Dice is probed for its value and its gradient, both judged against the formula worked
in NumPy. The SegNet stage uses topic 02's unpooling layer, which the grader cannot rebuild, so
its probe returns arrays: the stage's output on fixed inputs and kernels, judged against
unpooling computed as the gradient of max pooling and against the lecture's hand-worked case.
"""

from course_utils import checks
from course_utils.checks import _unet_arrays as arrays
from course_utils.checks import _unet_levels as levels
from course_utils.checks import _unet_segnet as segnet

# Exercise numbers in solutions/06_unet.ipynb.
EXERCISES = {
    "encoder_level": 1,
    "decoder_level": 2,
    "center_crop": 3,
    "dice_loss": 4,
    "segnet_decoder_stage": 5,
}


check_encoder_level, check_encoder_level_hidden = checks.exercise(
    EXERCISES["encoder_level"],
    "encoder_level",
    case=levels.level_case,
    public=levels.ENCODER_KEYS,
    hidden=levels.ENCODER_KEYS_HIDDEN,
    probe=levels.probe_encoder,
    judge=levels.each_level(levels.judge_encoder),
    passed="skip 16x16x8 before pooling, down 8x8x8 after it.",
    hidden_passed="{count} hidden cases.",
)


check_decoder_level, check_decoder_level_hidden = checks.exercise(
    EXERCISES["decoder_level"],
    "decoder_level",
    case=levels.level_case,
    public=levels.DECODER_KEYS,
    hidden=levels.DECODER_KEYS_HIDDEN,
    probe=levels.probe_decoder,
    judge=levels.each_level(levels.judge_decoder),
    passed="upsampled to 8x8, concatenated with the skip on channels, 8x8x8 out.",
    hidden_passed="{count} hidden cases.",
)


check_center_crop, check_center_crop_hidden = checks.exercise(
    EXERCISES["center_crop"],
    "center_crop",
    case=arrays.crop_case,
    public=arrays.CROP_KEYS,
    hidden=arrays.CROP_KEYS_HIDDEN,
    judge=checks.each_case(arrays.judge_crop),
    passed="136 -> 104 cuts 16 rows at each side; 9 -> 6 cuts 1 above, 2 below.",
    hidden_passed="{count} hidden cases.",
)


check_dice_loss, check_dice_loss_hidden = checks.exercise(
    EXERCISES["dice_loss"],
    "dice_loss",
    case=arrays.dice_case,
    public=arrays.DICE_KEYS,
    hidden=arrays.DICE_KEYS_HIDDEN,
    probe=arrays.probe_dice,
    judge=checks.each_case(arrays.judge_dice),
    passed="one Dice per class over batch and pixels, smoothed; perfect gives 0; the gradient "
    "is the formula's.",
    hidden_passed="{count} hidden cases.",
)


check_segnet_decoder_stage, check_segnet_decoder_stage_hidden = checks.exercise(
    EXERCISES["segnet_decoder_stage"],
    "segnet_decoder_stage",
    case=segnet.stage_case,
    public=segnet.STAGE_KEYS,
    hidden=segnet.STAGE_KEYS_HIDDEN,
    probe=segnet.probe_segnet_stage,
    judge=checks.each_case(segnet.judge_segnet_stage),
    passed="the lecture's 4x4 example unpools as worked by hand, and the stage equals "
    "unpooling by the gradient of max pooling, then conv and ReLU.",
    hidden_passed="{count} hidden cases.",
)
