/* tiny: the smallest static program, exit_group(7); execfuzz runs corrupted copies. */
void _start(void)
{
    __asm__ volatile("mov x0, #7\n mov x8, #94\n svc #0");
}
