// A local APIC in xAPIC mode, memory-mapped at 0xFEE00000 (Intel SDM Vol. 3A ch. 11):
// ID, version, TPR/APR/PPR, EOI (with the EOI broadcast to the IOAPIC for level-triggered
// vectors), LDR/DFR, SVR, ISR/TMR/IRR, ESR, LVT (timer, thermal, perf, LINT0, LINT1,
// error), the timer in one-shot and periodic modes with the divide configuration, and the
// ICR (fixed, lowest priority, NMI, INIT, SIPI; shorthands). LINT0 in ExtINT mode passes
// the i8259's INT through (virtual-wire mode, MP spec §3.6.2.2). It implements
// InterruptAcceptor for its CPU. Leaves out x2APIC, TSC-deadline mode (not advertised by
// CPUID), the CMCI LVT, SMI and remote read.

import type { AccessSize, MmioDevice } from '../bus.js';
import { TSC_HZ, type VirtualClock } from '../clock.js';
import type { InterruptAcceptor } from '../irq.js';
import {
  DELIVERY_EXTINT,
  DELIVERY_FIXED,
  DELIVERY_INIT,
  DELIVERY_LOWEST,
  DELIVERY_NMI,
  DELIVERY_STARTUP,
  type ApicBus,
  type ApicEndpoint,
  type ApicMessage,
} from './apic-bus.js';
import type { TimerSource } from './timer.js';

export const APIC_DEFAULT_BASE = 0xfee0_0000;
export const APIC_ID = 0x20;
export const APIC_LVR = 0x30;
export const APIC_TASKPRI = 0x80;
export const APIC_ARBPRI = 0x90;
export const APIC_PROCPRI = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SPIV = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_LVTCMCI = 0x2f0;
export const APIC_ICR = 0x300;
export const APIC_ICR2 = 0x310;
export const APIC_LVTT = 0x320;
export const APIC_LVTTHMR = 0x330;
export const APIC_LVTPC = 0x340;
export const APIC_LVT0 = 0x350;
export const APIC_LVT1 = 0x360;
export const APIC_LVTERR = 0x370;
export const APIC_TMICT = 0x380;
export const APIC_TMCCT = 0x390;
export const APIC_TDCR = 0x3e0;

export const APIC_LVT_MASKED = 1 << 16;
export const APIC_SPIV_APIC_ENABLED = 1 << 8;
const APIC_LVT_LEVEL_TRIGGER = 1 << 15;
const APIC_LVT_TIMER_PERIODIC = 1 << 17;
/** Version 0x14 (integrated APIC), max LVT entry 5 (SDM Figure 11-7). */
const APIC_VERSION = 0x0005_0014;
const LVT_COUNT = 6; // timer, thermal, perf, LINT0, LINT1, error (0x320-0x370)

/** What the LAPIC needs from the outside: the i8259 on LINT0, the IOAPIC's EOI, its CPU. */
export interface LapicWiring {
  apicBus: ApicBus;
  clock: VirtualClock;
  /** The i8259 pair (only the BSP's LINT0 is wired to it). */
  pic?: { hasInterrupt(): boolean; acknowledge(): number };
  /** EOI broadcast for level-triggered vectors. */
  onLevelEoi?: (vector: number) => void;
  /** Pending-interrupt changes: the machine wakes a halted vCPU. */
  onWake?: () => void;
  onNmi?: () => void;
  onInit?: () => void;
  onStartup?: (vector: number) => void;
  /** Timer input frequency before the divider (the "bus clock"). */
  timerHz?: number;
}

// The timer runs at the core crystal frequency the CPU reports in CPUID leaf 0x15 (ECX,
// = TSC_HZ here): Linux's native_calibrate_tsc() then sets lapic_timer_period from it and
// skips calibrating the LAPIC timer, so the two must agree.
export const LAPIC_TIMER_HZ = TSC_HZ;

export class Lapic implements MmioDevice, InterruptAcceptor, ApicEndpoint, TimerSource {
  private id: number;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffff_ffff;
  private svr = 0xff;
  private esr = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private readonly lvt = new Uint32Array(LVT_COUNT);
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private timerInitial = 0;
  private timerDivideShift = 1; // TDCR=0 divides by 2
  private tdcr = 0;
  private timerStartNs = 0;
  private timerDeadlineNs = Infinity;
  private readonly timerHz: number;
  private pendingCache = false;
  private extintEnabledCache = false;

  constructor(readonly index: number, private readonly wiring: LapicWiring, readonly isBsp = index === 0) {
    this.id = index;
    this.timerHz = wiring.timerHz ?? LAPIC_TIMER_HZ;
    this.reset();
  }

  get apicId(): number {
    return this.id;
  }

  /** Power-on/INIT state (SDM §11.4.7.3); the BSP's LINT0 is left in ExtINT mode as a BIOS does. */
  reset(): void {
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffff_ffff;
    this.svr = 0xff;
    this.esr = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvt.fill(APIC_LVT_MASKED);
    if (this.isBsp) {
      this.lvt[3] = DELIVERY_EXTINT << 8; // LINT0: virtual wire
      this.lvt[4] = DELIVERY_NMI << 8; // LINT1: NMI
    }
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.timerInitial = 0;
    this.tdcr = 0;
    this.timerDivideShift = 1;
    this.timerDeadlineNs = Infinity;
    this.refresh();
  }

  matchesLogical(destination: number): boolean {
    const ldr = this.ldr >>> 24;
    if (destination === 0xff) return true;
    if ((this.dfr >>> 28) === 0xf) return (ldr & destination) !== 0; // flat model
    // Cluster model: high nibble cluster, low nibble member mask (SDM §11.6.2.2).
    return (ldr >> 4) === (destination >> 4) && (ldr & destination & 0x0f) !== 0;
  }

  accept(msg: ApicMessage): void {
    switch (msg.deliveryMode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST:
        this.setIrr(msg.vector, msg.levelTriggered);
        return;
      case DELIVERY_NMI:
        this.wiring.onNmi?.();
        return;
      case DELIVERY_INIT:
        if (msg.assert) this.wiring.onInit?.();
        return;
      case DELIVERY_STARTUP:
        this.wiring.onStartup?.(msg.vector);
        return;
      case DELIVERY_EXTINT:
        this.wiring.onWake?.();
        return;
      default:
        return; // SMI and reserved modes: dropped
    }
  }

  private setIrr(vector: number, level: boolean): void {
    if (vector < 16) {
      this.esr |= 0x40; // received illegal vector
      return;
    }
    const w = vector >> 5;
    const bit = 1 << (vector & 31);
    this.irr[w] |= bit;
    if (level) this.tmr[w] |= bit;
    else this.tmr[w] &= ~bit;
    this.refresh();
    this.wiring.onWake?.();
  }

  private static highest(regs: Uint32Array): number {
    for (let w = 7; w >= 0; w--) {
      if (regs[w]) return w * 32 + 31 - Math.clz32(regs[w]);
    }
    return -1;
  }

  private ppr(): number {
    const isrv = Lapic.highest(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr & 0xff : isrClass;
  }

  private refresh(): void {
    const lint0 = this.lvt[3];
    this.extintEnabledCache = !(lint0 & APIC_LVT_MASKED) && ((lint0 >> 8) & 7) === DELIVERY_EXTINT;
    const v = Lapic.highest(this.irr);
    this.pendingCache = v >= 0 && this.svr & APIC_SPIV_APIC_ENABLED ? (v & 0xf0) > (this.ppr() & 0xf0) : false;
  }

  /** The i8259's INT changed (only meaningful on the BSP). */
  picChanged(): void {
    this.wiring.onWake?.();
  }

  hasInterrupt(): boolean {
    if (this.pendingCache) return true;
    return this.extintEnabledCache && this.wiring.pic !== undefined && this.wiring.pic.hasInterrupt();
  }

  acknowledgeInterrupt(): number {
    if (this.pendingCache) {
      const v = Lapic.highest(this.irr);
      const w = v >> 5;
      const bit = 1 << (v & 31);
      this.irr[w] &= ~bit;
      this.isr[w] |= bit;
      this.refresh();
      return v;
    }
    if (this.extintEnabledCache && this.wiring.pic?.hasInterrupt()) return this.wiring.pic.acknowledge();
    return -1;
  }

  private eoi(): void {
    const v = Lapic.highest(this.isr);
    if (v < 0) return;
    const w = v >> 5;
    const bit = 1 << (v & 31);
    this.isr[w] &= ~bit;
    this.refresh();
    if (this.tmr[w] & bit) this.wiring.onLevelEoi?.(v);
  }

  // --- timer (SDM §11.5.4) ---

  private timerPeriodNs(): number {
    return ((this.timerInitial * 2 ** this.timerDivideShift) / this.timerHz) * 1e9;
  }

  private startTimer(nowNs: number): void {
    this.timerStartNs = nowNs;
    this.timerDeadlineNs = this.timerInitial === 0 ? Infinity : nowNs + Math.max(1, this.timerPeriodNs());
  }

  private currentCount(): number {
    if (this.timerInitial === 0 || this.timerDeadlineNs === Infinity) return 0;
    const now = this.wiring.clock.nowNs();
    const elapsedTicks = Math.floor(((now - this.timerStartNs) * this.timerHz) / 1e9 / 2 ** this.timerDivideShift);
    const periodic = (this.lvt[0] & APIC_LVT_TIMER_PERIODIC) !== 0;
    if (periodic) return this.timerInitial - (elapsedTicks % this.timerInitial);
    return Math.max(0, this.timerInitial - elapsedTicks);
  }

  nextDeadlineNs(): number {
    return this.timerDeadlineNs;
  }

  poll(nowNs: number): void {
    if (nowNs < this.timerDeadlineNs) return;
    const lvtt = this.lvt[0];
    if (!(lvtt & APIC_LVT_MASKED)) this.setIrr(lvtt & 0xff, false);
    if (lvtt & APIC_LVT_TIMER_PERIODIC && this.timerInitial > 0) {
      const period = Math.max(1, this.timerPeriodNs());
      // Missed periods coalesce into one interrupt, as a busy guest would see on hardware
      // with the interrupt still pending in IRR.
      const periods = Math.floor((nowNs - this.timerStartNs) / period);
      this.timerStartNs += periods * period;
      this.timerDeadlineNs = this.timerStartNs + period;
    } else {
      this.timerDeadlineNs = Infinity;
    }
  }

  // --- registers ---

  mmioRead(offset: number, _size: AccessSize): number {
    const reg = offset & 0xff0;
    switch (reg) {
      case APIC_ID:
        return this.id << 24;
      case APIC_LVR:
        return APIC_VERSION;
      case APIC_TASKPRI:
        return this.tpr;
      case APIC_ARBPRI:
        return 0;
      case APIC_PROCPRI:
        return this.ppr();
      case APIC_LDR:
        return this.ldr;
      case APIC_DFR:
        return this.dfr;
      case APIC_SPIV:
        return this.svr;
      case APIC_ESR:
        return this.esr;
      case APIC_ICR:
        return this.icrLow & ~(1 << 12); // delivery status: idle
      case APIC_ICR2:
        return this.icrHigh;
      case APIC_TMICT:
        return this.timerInitial;
      case APIC_TMCCT:
        return this.currentCount();
      case APIC_TDCR:
        return this.tdcr;
      case APIC_EOI:
        return 0;
    }
    if (reg >= APIC_ISR && reg < APIC_ISR + 0x80) return this.isr[(reg - APIC_ISR) >> 4];
    if (reg >= APIC_TMR && reg < APIC_TMR + 0x80) return this.tmr[(reg - APIC_TMR) >> 4];
    if (reg >= APIC_IRR && reg < APIC_IRR + 0x80) return this.irr[(reg - APIC_IRR) >> 4];
    if (reg >= APIC_LVTT && reg <= APIC_LVTERR) return this.lvt[(reg - APIC_LVTT) >> 4];
    return 0;
  }

  mmioWrite(offset: number, _size: AccessSize, value: number): void {
    const reg = offset & 0xff0;
    value >>>= 0;
    switch (reg) {
      case APIC_ID:
        this.id = value >>> 24;
        return;
      case APIC_TASKPRI:
        this.tpr = value & 0xff;
        this.refresh();
        return;
      case APIC_EOI:
        this.eoi();
        return;
      case APIC_LDR:
        this.ldr = value & 0xff00_0000;
        return;
      case APIC_DFR:
        this.dfr = (value | 0x0fff_ffff) >>> 0;
        return;
      case APIC_SPIV:
        this.svr = value & 0x13ff;
        if (!(this.svr & APIC_SPIV_APIC_ENABLED)) {
          // Software disable masks every LVT entry (SDM §11.4.7.2).
          for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] |= APIC_LVT_MASKED;
        }
        this.refresh();
        return;
      case APIC_ESR:
        this.esr = 0;
        return;
      case APIC_ICR2:
        this.icrHigh = value & 0xff00_0000;
        return;
      case APIC_ICR:
        this.icrLow = value & 0x000c_cfff;
        this.sendIpi();
        return;
      case APIC_TMICT:
        this.timerInitial = value;
        this.startTimer(this.wiring.clock.nowNs());
        return;
      case APIC_TDCR: {
        this.tdcr = value & 0xb;
        const code = ((value >> 1) & 4) | (value & 3);
        this.timerDivideShift = code === 7 ? 0 : code + 1;
        return;
      }
    }
    if (reg >= APIC_LVTT && reg <= APIC_LVTERR) {
      const i = (reg - APIC_LVTT) >> 4;
      let v = value & (i === 0 ? 0x7_10ff : i === 3 || i === 4 ? 0x1_a7ff : 0x1_07ff);
      if (!(this.svr & APIC_SPIV_APIC_ENABLED)) v |= APIC_LVT_MASKED;
      // A mode change does not restart the timer; only TMICT writes do (SDM §11.5.4).
      this.lvt[i] = v;
      if (i === 3) {
        this.refresh();
        this.wiring.onWake?.();
      }
    }
  }

  private sendIpi(): void {
    const low = this.icrLow;
    const mode = (low >> 8) & 7;
    const levelTriggered = (low & APIC_LVT_LEVEL_TRIGGER) !== 0;
    const assert = (low & (1 << 14)) !== 0;
    // INIT level de-assert (trigger=level, level=0) only synchronises arbitration IDs on
    // old P6 parts; it is a no-op here (SDM §11.6.1).
    if (mode === DELIVERY_INIT && levelTriggered && !assert) return;
    const msg: ApicMessage = {
      vector: low & 0xff,
      deliveryMode: mode,
      logical: (low & (1 << 11)) !== 0,
      destination: this.icrHigh >>> 24,
      levelTriggered: false,
      assert: true,
    };
    const shorthand = (low >> 18) & 3;
    if (shorthand === 0) this.wiring.apicBus.deliver(msg);
    else this.wiring.apicBus.deliverShorthand(this, shorthand, msg);
  }
}
