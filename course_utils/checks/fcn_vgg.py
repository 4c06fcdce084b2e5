"""Checks of solutions/04_fcn_vgg.ipynb: upsampling, fusion, metrics, losses, hypercolumns, CRF.

Each exercise's public and hidden checks come from one :func:`course_utils.checks.exercise` call.
Independent answers: ``tf.image.resize`` and the lecture's bilinear kernel for the upsampling; a
NumPy re-computation of FCN-8s from the student's own (rebuilt) layers for the fusion;
``keras.metrics.MeanIoU`` and ``np.histogram2d`` for the metrics; a NumPy cross-entropy and the
loss's gradient for the masked loss; ``tf.image.resize`` for the hypercolumns; a loop over the
pairs of pixels for the CRF energy. Keras is imported inside functions: a solutions notebook
imports this module before ``config.setup()``.
"""

from course_utils import checks
from course_utils.checks import _fcn_vgg_networks as networks
from course_utils.checks import _fcn_vgg_scores as scores

# Exercise numbers in solutions/04_fcn_vgg.ipynb.
EXERCISES = {
    "upsampling_weights": 1,
    "fcn8s_fusion": 2,
    "confusion_matrix": 3,
    "mean_iou": 4,
    "masked_crossentropy": 5,
    "hypercolumn": 6,
    "crf_energy": 7,
}


check_upsampling_weights, check_upsampling_weights_hidden = checks.exercise(
    EXERCISES["upsampling_weights"],
    "upsampling_weights",
    case=networks.upsampling_case,
    public=networks.UPSAMPLING_KEYS,
    hidden=networks.UPSAMPLING_KEYS_HIDDEN,
    judge=checks.each_case(networks.judge_upsampling_case),
    passed="the weights upsample each class like tf.image.resize, classes kept apart.",
    hidden_passed="hidden factors and class counts are right.",
)


check_fcn8s_fusion, check_fcn8s_fusion_hidden = checks.exercise(
    EXERCISES["fcn8s_fusion"],
    "fcn8s_fusion",
    case=networks.fusion_case,
    public=networks.FUSION_KEYS,
    hidden=networks.FUSION_KEYS_HIDDEN,
    probe=networks.probe_fusion,
    judge=networks.each_model_case(
        networks.judge_fusion_case, "fcn8s_fusion", "Conv2D, Conv2DTranspose, Add"
    ),
    passed="FCN-8s fuses scored maxp4 and maxp3 by addition, bilinear x2, x2, x8.",
    hidden_passed="the fusion is right on hidden sizes.",
)


check_confusion_matrix, check_confusion_matrix_hidden = checks.exercise(
    EXERCISES["confusion_matrix"],
    "confusion_matrix",
    case=scores.confusion_case,
    public=scores.CONFUSION_KEYS,
    hidden=scores.CONFUSION_KEYS_HIDDEN,
    judge=checks.each_case(scores.judge_confusion_case),
    passed="rows are true classes, columns predicted, counts of pixels.",
    hidden_passed="hidden confusion matrices are right.",
)


check_mean_iou, check_mean_iou_hidden = checks.exercise(
    EXERCISES["mean_iou"],
    "mean_iou",
    case=scores.iou_case,
    public=scores.IOU_KEYS,
    hidden=scores.IOU_KEYS_HIDDEN,
    judge=checks.each_case(scores.judge_iou_case),
    passed="mean IoU matches keras.metrics.MeanIoU; absent classes are left out.",
    hidden_passed="hidden mean IoUs are right.",
)


check_masked_crossentropy, check_masked_crossentropy_hidden = checks.exercise(
    EXERCISES["masked_crossentropy"],
    "masked_crossentropy",
    case=scores.masked_case,
    public=scores.MASKED_KEYS,
    hidden=scores.MASKED_KEYS_HIDDEN,
    probe=scores.probe_loss_and_gradient,
    judge=checks.each_case(scores.judge_masked_case),
    passed="cross-entropy averaged over the labelled pixels only, with a gradient.",
    hidden_passed="hidden masked losses are right.",
)


check_hypercolumn, check_hypercolumn_hidden = checks.exercise(
    EXERCISES["hypercolumn"],
    "hypercolumn",
    case=networks.hypercolumn_case,
    public=networks.HYPERCOLUMN_KEYS,
    hidden=networks.HYPERCOLUMN_KEYS_HIDDEN,
    probe=networks.probe_hypercolumn,
    judge=networks.each_model_case(
        networks.judge_hypercolumn_case, "hypercolumn", "UpSampling2D, Resizing, Concatenate"
    ),
    passed="maxp3, maxp4 and maxp5 upsampled bilinearly to the output grid and concatenated.",
    hidden_passed="hypercolumns are right at hidden sizes and output strides.",
)


check_crf_energy, check_crf_energy_hidden = checks.exercise(
    EXERCISES["crf_energy"],
    "crf_energy",
    case=scores.crf_case,
    public=scores.CRF_KEYS,
    hidden=scores.CRF_KEYS_HIDDEN,
    judge=checks.each_case(scores.judge_crf_case),
    passed="the energy adds each pixel's unary and k(i, j) once for every pair that disagrees.",
    hidden_passed="hidden energies are right.",
)
